package blobs

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/p2p"
)

// rawRequest sends req from a to b's server and returns the response and
// the bytes after it.
func rawRequest(t *testing.T, a, b *node, req any) (response, []byte) {
	t.Helper()
	conn, err := a.host.Dial(testCtx(t), b.host.ID(), Protocol)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := p2p.WriteFrame(conn, req); err != nil {
		t.Fatal(err)
	}
	var resp response
	if err := p2p.ReadFrame(conn, &resp, maxHeaderFrame); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return resp, rest
}

func TestServerProtocol(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	data := randBytes(t, 300000)
	d := b.store.put(data)

	resp, rest := rawRequest(t, a, b, request{Digest: d, Offset: 123456})
	if resp.Error != "" || resp.Size != int64(len(data)) || !bytes.Equal(rest, data[123456:]) {
		t.Fatalf("offset request: resp %+v, %d bytes, equal %v", resp, len(rest), bytes.Equal(rest, data[123456:]))
	}
	resp, rest = rawRequest(t, a, b, request{Digest: d, Offset: int64(len(data))})
	if resp.Error != "" || len(rest) != 0 {
		t.Fatalf("request at end: resp %+v, %d bytes", resp, len(rest))
	}

	for _, tc := range []struct {
		name string
		req  any
		code string
		msg  string
	}{
		{"missing", request{Digest: sha([]byte("nope"))}, codeNotFound, "not in store"},
		{"bad digest", request{Digest: "sha256:xyz"}, codeInvalid, "needs 64 hex"},
		{"negative offset", request{Digest: d, Offset: -1}, codeInvalid, "negative offset"},
		{"offset past end", request{Digest: d, Offset: int64(len(data)) + 1}, codeInvalid, "beyond size"},
		{"not a request", []int{1, 2}, codeInvalid, "bad blob request"},
	} {
		resp, rest := rawRequest(t, a, b, tc.req)
		if resp.Code != tc.code || !strings.Contains(resp.Error, tc.msg) || len(rest) != 0 {
			t.Errorf("%s: resp %+v with %d bytes, want code %s and %q", tc.name, resp, len(rest), tc.code, tc.msg)
		}
	}
}

func TestServerCloseStopsServing(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	d := b.store.put(randBytes(t, 1000))
	if err := b.server.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.fetcher.FetchBlob(testCtx(t), d, 1000, ids(b), nil); err == nil {
		t.Fatal("fetched from a closed server")
	}
}

func TestServerBoundsConcurrentStreams(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	g := newGate(b.store)
	const blobs = ServerStreams + 3
	errs := make(chan error, blobs)
	for i := range blobs {
		data := randBytes(t, 100<<10+i)
		d := b.store.put(data)
		go func() { errs <- a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(b), nil) }()
	}
	waitFor(t, 10*time.Second, "the server to open its streams", func() bool { return b.store.totalReads() >= ServerStreams })
	// No stream finishes while the gate is shut, so more reads would mean
	// more concurrent streams. Watch for a while.
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if r := b.store.totalReads(); r > ServerStreams {
			t.Fatalf("server serves %d streams at once, limit %d", r, ServerStreams)
		}
	}
	close(g.release)
	for range blobs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if r := b.store.totalReads(); r != blobs {
		t.Fatalf("server read %d blobs, want %d", r, blobs)
	}
}
