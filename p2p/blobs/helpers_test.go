package blobs

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/shoal-project/shoal/p2p"
)

// memStore is a map-backed BlobStore that counts reads per digest.
type memStore struct {
	mu    sync.Mutex
	blobs map[string][]byte
	reads map[string]int
	// open, if set, replaces the reader ReadBlob returns.
	open func(ctx context.Context, dgst string, data []byte) io.Reader
}

func newMemStore() *memStore {
	return &memStore{blobs: map[string][]byte{}, reads: map[string]int{}}
}

// sha returns the sha256 digest string of b.
func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// put stores b under its digest and returns the digest.
func (m *memStore) put(b []byte) string {
	d := sha(b)
	m.putAs(d, b)
	return d
}

// putAs stores b under dgst without checking, to model a corrupt store.
func (m *memStore) putAs(dgst string, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[dgst] = b
}

func (m *memStore) get(dgst string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[dgst]
	return b, ok
}

func (m *memStore) readCount(dgst string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reads[dgst]
}

func (m *memStore) totalReads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.reads {
		n += c
	}
	return n
}

func (m *memStore) HasBlob(_ context.Context, dgst string) (bool, error) {
	_, ok := m.get(dgst)
	return ok, nil
}

func (m *memStore) ReadBlob(ctx context.Context, dgst string) (io.ReadCloser, int64, error) {
	m.mu.Lock()
	b, ok := m.blobs[dgst]
	if ok {
		m.reads[dgst]++
	}
	open := m.open
	m.mu.Unlock()
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", dgst, errors.New("not found"))
	}
	var r io.Reader = bytes.NewReader(b)
	if open != nil {
		r = open(ctx, dgst, b)
	}
	return io.NopCloser(r), int64(len(b)), nil
}

func (m *memStore) WriteBlob(_ context.Context, dgst string, size int64, r io.Reader) error {
	var buf bytes.Buffer
	buf.Grow(int(max(size, 0)))
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	if int64(buf.Len()) != size {
		return fmt.Errorf("write %s: got %d bytes, want %d", dgst, buf.Len(), size)
	}
	if got := sha(buf.Bytes()); got != dgst {
		return fmt.Errorf("write %s: digest is %s", dgst, got)
	}
	m.putAs(dgst, buf.Bytes())
	return nil
}

// randBytes returns n random bytes.
func randBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// node is a test host with a store, a server and a fetcher.
type node struct {
	host    *p2p.Host
	store   *memStore
	server  *Server
	fetcher *Fetcher
}

// newNode starts a host on 127.0.0.1 serving a fresh memStore.
func newNode(t testing.TB) *node {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p2p.NewHost(p2p.Config{Key: key, ListenIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	st := newMemStore()
	srv, err := NewServer(h, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &node{host: h, store: st, server: srv, fetcher: NewFetcher(h, st)}
}

// newNodes starts n nodes that are members of each other.
func newNodes(t testing.TB, n int) []*node {
	t.Helper()
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = newNode(t)
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.host.Gater().AddMember(b.host.ID())
				if err := a.host.SetPeerAddr(b.host.ID(), b.host.Addr()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return nodes
}

// ids returns the peer IDs of nodes.
func ids(nodes ...*node) []peer.ID {
	out := make([]peer.ID, len(nodes))
	for i, n := range nodes {
		out[i] = n.host.ID()
	}
	return out
}

// testCtx returns a context that ends with the test or after 30 seconds.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
