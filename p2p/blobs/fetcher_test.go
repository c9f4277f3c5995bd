package blobs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// progressLog records Progress calls and checks they are monotonic.
type progressLog struct {
	mu    sync.Mutex
	calls map[string][][2]int64
}

func (p *progressLog) fn(dgst string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls == nil {
		p.calls = map[string][][2]int64{}
	}
	p.calls[dgst] = append(p.calls[dgst], [2]int64{done, total})
}

// check asserts dgst's calls are strictly increasing and end at total.
func (p *progressLog) check(t *testing.T, dgst string, total int64) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	calls := p.calls[dgst]
	if len(calls) == 0 {
		t.Fatalf("no progress for %s", dgst)
	}
	for i, c := range calls {
		if c[1] != total {
			t.Fatalf("progress call %d for %s: total %d, want %d", i, dgst, c[1], total)
		}
		if i > 0 && c[0] <= calls[i-1][0] {
			t.Fatalf("progress for %s not increasing: %v", dgst, calls)
		}
	}
	if last := calls[len(calls)-1]; last[0] != total {
		t.Fatalf("progress for %s ends at %d, want %d", dgst, last[0], total)
	}
}

func TestFetchBlobMovesAndVerifies(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	data := randBytes(t, 3<<20+17)
	d := b.store.put(data)
	var log progressLog
	if err := a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(b), log.fn); err != nil {
		t.Fatal(err)
	}
	got, ok := a.store.get(d)
	if !ok || !bytes.Equal(got, data) {
		t.Fatalf("store has blob %v, equal %v", ok, bytes.Equal(got, data))
	}
	log.check(t, d, int64(len(data)))
	if len(log.calls[d]) < 3 {
		t.Fatalf("only %d progress calls for a 3 MiB blob", len(log.calls[d]))
	}
	// A blob already present is not fetched again.
	var log2 progressLog
	if err := a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(b), log2.fn); err != nil {
		t.Fatal(err)
	}
	if c := b.store.readCount(d); c != 1 {
		t.Fatalf("server read the blob %d times, want 1", c)
	}
	log2.check(t, d, int64(len(data)))
}

func TestFetchBlobUnknownSizeAndEmptyBlob(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	data := randBytes(t, 1000)
	d := b.store.put(data)
	empty := b.store.put(nil)
	if err := a.fetcher.FetchBlob(testCtx(t), d, -1, ids(b), nil); err != nil {
		t.Fatal(err)
	}
	var log progressLog
	if err := a.fetcher.FetchBlob(testCtx(t), empty, 0, ids(b), log.fn); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.store.get(d); !bytes.Equal(got, data) {
		t.Fatal("blob of unknown size not stored")
	}
	if ok, _ := a.store.HasBlob(context.Background(), empty); !ok {
		t.Fatal("empty blob not stored")
	}
	log.check(t, empty, 0)
}

func TestCorruptPeerDetectedAndNextPeerUsed(t *testing.T) {
	n := newNodes(t, 3)
	a, bad, good := n[0], n[1], n[2]
	data := randBytes(t, 1<<20)
	d := good.store.put(data)
	corrupt := bytes.Clone(data)
	corrupt[12345] ^= 0xff
	bad.store.putAs(d, corrupt)

	err := a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(bad), nil)
	var de *DigestError
	if !errors.As(err, &de) {
		t.Fatalf("want a DigestError, got %v", err)
	}
	if de.Peer != bad.host.ID().String() || de.Want != d || de.Got != sha(corrupt) {
		t.Fatalf("DigestError %+v, want peer %s want %s got %s", de, bad.host.ID(), d, sha(corrupt))
	}
	for _, s := range []string{bad.host.ID().String(), d, sha(corrupt)} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not name %s", err, s)
		}
	}
	if ok, _ := a.store.HasBlob(context.Background(), d); ok {
		t.Fatal("corrupt blob was stored")
	}

	var failed []peer.ID
	a.fetcher.OnPeerError = func(p peer.ID, _ string, err error) {
		if errors.As(err, &de) {
			failed = append(failed, p)
		}
	}
	if err := a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(bad, good), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.store.get(d); !bytes.Equal(got, data) {
		t.Fatal("stored blob differs from the good peer's")
	}
	if len(failed) != 1 || failed[0] != bad.host.ID() {
		t.Fatalf("OnPeerError digest failures %v, want [%s]", failed, bad.host.ID())
	}
	if bad.store.readCount(d) != 2 || good.store.readCount(d) != 1 {
		t.Fatalf("reads: bad %d good %d, want 2 and 1", bad.store.readCount(d), good.store.readCount(d))
	}
}

func TestMissingBlobFallsThroughToNextPeer(t *testing.T) {
	n := newNodes(t, 3)
	a, empty, good := n[0], n[1], n[2]
	data := randBytes(t, 4096)
	d := good.store.put(data)

	err := a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(empty), nil)
	var fe *FetchError
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &fe) || len(fe.Failures) != 1 {
		t.Fatalf("want a FetchError wrapping ErrNotFound, got %v", err)
	}
	if !strings.Contains(err.Error(), empty.host.ID().String()) {
		t.Fatalf("error %q does not name the peer", err)
	}
	var notFound []peer.ID
	a.fetcher.OnPeerError = func(p peer.ID, _ string, err error) {
		if errors.Is(err, ErrNotFound) {
			notFound = append(notFound, p)
		}
	}
	if err := a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(empty, good), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.store.get(d); !bytes.Equal(got, data) {
		t.Fatal("blob not stored")
	}
	if len(notFound) != 1 || notFound[0] != empty.host.ID() {
		t.Fatalf("not-found peers %v, want [%s]", notFound, empty.host.ID())
	}
}

func TestFetchBlobWrongSizeTriesNextPeer(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	data := randBytes(t, 100)
	d := b.store.put(data)
	err := a.fetcher.FetchBlob(testCtx(t), d, 99, ids(b), nil)
	if err == nil || !strings.Contains(err.Error(), "100 bytes, want 99") {
		t.Fatalf("want a size mismatch error, got %v", err)
	}
}

func TestFetchBlobBadInput(t *testing.T) {
	n := newNodes(t, 1)
	a := n[0]
	for _, tc := range []struct{ dgst, want string }{
		{"", "missing algorithm"},
		{"md5:abcd", "unsupported algorithm"},
		{"sha256:abc", "needs 64 hex"},
		{"sha256:" + strings.Repeat("G", 64), "invalid hex"},
		{"sha256:" + strings.Repeat("A", 64), "invalid hex"},
	} {
		err := a.fetcher.FetchBlob(testCtx(t), tc.dgst, 1, nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FetchBlob(%q) = %v, want error containing %q", tc.dgst, err, tc.want)
		}
	}
	d := sha([]byte("x"))
	err := a.fetcher.FetchBlob(testCtx(t), d, 1, []peer.ID{a.host.ID()}, nil)
	if err == nil || !strings.Contains(err.Error(), "no peers") {
		t.Fatalf("fetch with only self as peer = %v, want no peers error", err)
	}
}

// gate makes a store's ReadBlob serve the first chunk, then block until
// release is closed or the request's ctx ends (which closes cancelled).
type gate struct {
	release   chan struct{}
	cancelled chan struct{}
	once      sync.Once
}

func newGate(st *memStore) *gate {
	g := &gate{release: make(chan struct{}), cancelled: make(chan struct{})}
	st.open = func(ctx context.Context, _ string, data []byte) io.Reader {
		return &gatedReader{g: g, ctx: ctx, r: bytes.NewReader(data), free: 64 << 10}
	}
	return g
}

type gatedReader struct {
	g    *gate
	ctx  context.Context
	r    *bytes.Reader
	free int
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if r.free <= 0 {
		select {
		case <-r.g.release:
		case <-r.ctx.Done():
			r.g.once.Do(func() { close(r.g.cancelled) })
			return 0, r.ctx.Err()
		}
	} else if len(p) > r.free {
		p = p[:r.free]
	}
	n, err := r.r.Read(p)
	r.free -= n
	return n, err
}

// callers returns how many callers wait on the flight for dgst.
func (f *Fetcher) callerCount(dgst string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fl := f.flights[dgst]; fl != nil {
		return len(fl.callers)
	}
	return 0
}

func TestConcurrentFetchesShareOneTransfer(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	data := randBytes(t, 1<<20)
	d := b.store.put(data)
	g := newGate(b.store)
	const callers = 6
	logs := make([]progressLog, callers)
	errs := make(chan error, callers)
	for i := range callers {
		go func() { errs <- a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(b), logs[i].fn) }()
	}
	waitFor(t, 10*time.Second, "all callers to join", func() bool { return a.fetcher.callerCount(d) == callers })
	close(g.release)
	for range callers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if c := b.store.readCount(d); c != 1 {
		t.Fatalf("server read the blob %d times, want 1", c)
	}
	for i := range logs {
		logs[i].check(t, d, int64(len(data)))
	}
}

func TestCancelStopsTransfer(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	data := randBytes(t, 1<<20)
	d := b.store.put(data)
	g := newGate(b.store)
	ctx, cancel := context.WithCancel(testCtx(t))
	progress := func(_ string, done, _ int64) {
		if done > 0 {
			cancel()
		}
	}
	err := a.fetcher.FetchBlob(ctx, d, int64(len(data)), ids(b), progress)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	select {
	case <-g.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("server kept reading the blob after the client cancelled")
	}
	waitFor(t, 10*time.Second, "the flight to end", func() bool {
		a.fetcher.mu.Lock()
		defer a.fetcher.mu.Unlock()
		return len(a.fetcher.flights) == 0
	})
	if ok, _ := a.store.HasBlob(context.Background(), d); ok {
		t.Fatal("cancelled blob was stored")
	}
}

func TestOneCallerCancellingKeepsSharedTransfer(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	data := randBytes(t, 1<<20)
	d := b.store.put(data)
	g := newGate(b.store)
	ctx1, cancel1 := context.WithCancel(testCtx(t))
	err1 := make(chan error, 1)
	err2 := make(chan error, 1)
	go func() { err1 <- a.fetcher.FetchBlob(ctx1, d, int64(len(data)), ids(b), nil) }()
	go func() { err2 <- a.fetcher.FetchBlob(testCtx(t), d, int64(len(data)), ids(b), nil) }()
	waitFor(t, 10*time.Second, "both callers to join", func() bool { return a.fetcher.callerCount(d) == 2 })
	cancel1()
	if err := <-err1; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v", err)
	}
	close(g.release)
	if err := <-err2; err != nil {
		t.Fatalf("remaining caller got %v", err)
	}
	if got, _ := a.store.get(d); !bytes.Equal(got, data) {
		t.Fatal("blob not stored")
	}
	if c := b.store.readCount(d); c != 1 {
		t.Fatalf("server read the blob %d times, want 1", c)
	}
}

func TestNonMemberRefused(t *testing.T) {
	n := newNodes(t, 1)
	b := n[0]
	c := newNode(t)
	// c may dial b, but b does not count c as a member.
	c.host.Gater().AllowOutbound(b.host.ID())
	if err := c.host.SetPeerAddr(b.host.ID(), b.host.Addr()); err != nil {
		t.Fatal(err)
	}
	d := b.store.put(randBytes(t, 1000))
	err := c.fetcher.FetchBlob(testCtx(t), d, 1000, ids(b), nil)
	if err == nil {
		t.Fatal("a non-member fetched a blob")
	}
	if ok, _ := c.store.HasBlob(context.Background(), d); ok {
		t.Fatal("non-member stored the blob")
	}
	if r := b.store.totalReads(); r != 0 {
		t.Fatalf("server read %d blobs for a non-member", r)
	}
}
