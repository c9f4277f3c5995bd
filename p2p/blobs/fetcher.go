package blobs

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/shoal-project/shoal/p2p"
)

// Progress reports that done of total bytes of blob dgst are present. For
// one call it is called with strictly increasing done (the first call may
// have done 0) and ends with done == total when the fetch succeeds.
type Progress func(dgst string, done, total int64)

// DefaultStallTimeout is how long a peer may send nothing before the
// Fetcher gives up on it and tries the next peer.
const DefaultStallTimeout = 60 * time.Second

// Fetcher fetches blobs and images from peers into a BlobStore. Set its
// exported fields before first use.
type Fetcher struct {
	// Platform picks sub-manifests of an image index: "os/arch" or
	// "os/arch/variant"; "*" fetches every platform. NewFetcher sets it to
	// "linux/" + runtime.GOARCH.
	Platform string
	// StallTimeout is how long a peer may send nothing before the next
	// peer is tried (DefaultStallTimeout if zero).
	StallTimeout time.Duration
	// OnPeerError, if set, is called when a peer fails to serve a blob and
	// the next peer is tried, e.g. to log it or to avoid a corrupt peer.
	OnPeerError func(p peer.ID, dgst string, err error)

	host    *p2p.Host
	store   BlobStore
	mu      sync.Mutex
	flights map[string]*flight
	// fetched counts the bytes of blobs received from peers and verified.
	fetched atomic.Uint64
}

// BytesFetched returns how many bytes of verified blobs this Fetcher
// received from peers (blobs the store already held are not counted).
func (f *Fetcher) BytesFetched() uint64 { return f.fetched.Load() }

// NewFetcher returns a Fetcher that dials peers through h into store.
func NewFetcher(h *p2p.Host, store BlobStore) *Fetcher {
	return &Fetcher{
		Platform: "linux/" + runtime.GOARCH,
		host:     h,
		store:    store,
		flights:  map[string]*flight{},
	}
}

// FetchBlob makes sure blob dgst of size bytes (size < 0: unknown) is in
// the store: it returns at once if the store has it, else it fetches it
// from peers in order, verifying its digest, and tries the next peer on
// any peer failure. Concurrent calls for the same digest share one
// transfer, which stops only when every caller's ctx has ended. The error
// of a call that no peer could serve names every peer's failure.
func (f *Fetcher) FetchBlob(ctx context.Context, dgst string, size int64, peers []peer.ID, progress Progress) error {
	d, err := parseDigest(dgst)
	if err != nil {
		return fmt.Errorf("fetch blob: %w", err)
	}
	if f.host == nil || f.store == nil {
		return fmt.Errorf("fetch %s: fetcher has no host or store", d)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fetch %s: %w", d, err)
	}
	cp := &callerProgress{fn: progress, dgst: d.String()}
	fl := f.join(d, size, peers, cp)
	select {
	case <-fl.done:
	case <-ctx.Done():
		f.leave(fl, cp)
		return fmt.Errorf("fetch %s: %w", d, ctx.Err())
	}
	if fl.err != nil {
		return fl.err
	}
	cp.call(fl.total, fl.total)
	return nil
}

// flight is one transfer of a blob shared by concurrent callers.
type flight struct {
	d      digest
	size   int64
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	// Set before done closes.
	err   error
	total int64
	// Guarded by Fetcher.mu.
	peers   []peer.ID
	callers []*callerProgress
}

// join adds a caller to the flight for d, starting one if none runs.
func (f *Fetcher) join(d digest, size int64, peers []peer.ID, cp *callerProgress) *flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.flights[d.String()]
	if fl == nil {
		ctx, cancel := context.WithCancel(context.Background())
		fl = &flight{d: d, size: size, ctx: ctx, cancel: cancel, done: make(chan struct{}), total: size}
		f.flights[d.String()] = fl
		go f.run(fl)
	}
	for _, p := range peers {
		if p != f.host.ID() && !containsPeer(fl.peers, p) {
			fl.peers = append(fl.peers, p)
		}
	}
	fl.callers = append(fl.callers, cp)
	return fl
}

// leave removes a caller whose ctx ended; the last one stops the transfer.
func (f *Fetcher) leave(fl *flight, cp *callerProgress) {
	cp.close()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range fl.callers {
		if c == cp {
			fl.callers = append(fl.callers[:i], fl.callers[i+1:]...)
			break
		}
	}
	if len(fl.callers) == 0 {
		fl.cancel()
		if f.flights[fl.d.String()] == fl {
			// A new caller must not join a cancelled transfer.
			delete(f.flights, fl.d.String())
		}
	}
}

// run performs the flight and publishes its result.
func (f *Fetcher) run(fl *flight) {
	err := f.transfer(fl)
	f.mu.Lock()
	if f.flights[fl.d.String()] == fl {
		delete(f.flights, fl.d.String())
	}
	fl.err = err
	f.mu.Unlock()
	fl.cancel()
	close(fl.done)
}

// transfer skips a blob the store has, else tries the flight's peers in
// order until one serves it.
func (f *Fetcher) transfer(fl *flight) error {
	d := fl.d
	if ok, err := f.store.HasBlob(fl.ctx, d.String()); err != nil {
		return fmt.Errorf("fetch %s: check local store: %w", d, err)
	} else if ok {
		if fl.total < 0 {
			fl.total = 0
			if rc, n, err := f.store.ReadBlob(fl.ctx, d.String()); err == nil {
				rc.Close()
				fl.total = n
			}
		}
		return nil
	}
	stall := f.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	var failures []error
	var high int64 = -1 // highest progress reported, kept monotonic across peers
	report := func(done int64) {
		if done <= high {
			return
		}
		high = done
		f.broadcast(fl, done)
	}
	for i := 0; ; i++ {
		p, ok := f.peerAt(fl, i)
		if !ok {
			break
		}
		conn, err := f.host.Dial(fl.ctx, p, Protocol)
		if err != nil {
			if fl.ctx.Err() != nil {
				return fmt.Errorf("fetch %s: %w", d, fl.ctx.Err())
			}
			failures = append(failures, err)
			f.peerFailed(p, d, err)
			continue
		}
		aerr := receive(fl.ctx, conn, p.String(), d, fl.size, f.store, stall,
			func(n int64) { fl.total = n; report(0) },
			func(n int64) { report(n) })
		if aerr == nil {
			f.fetched.Add(uint64(max(fl.total, 0)))
			report(fl.total)
			return nil
		}
		if !aerr.peer {
			return fmt.Errorf("fetch %s: %w", d, aerr.err)
		}
		failures = append(failures, aerr.err)
		f.peerFailed(p, d, aerr.err)
	}
	if len(failures) == 0 {
		return fmt.Errorf("fetch %s: no peers to fetch from", d)
	}
	return &FetchError{Digest: d.String(), Failures: failures}
}

// peerAt returns the flight's i-th peer; callers may add peers meanwhile.
func (f *Fetcher) peerAt(fl *flight, i int) (peer.ID, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i >= len(fl.peers) {
		return "", false
	}
	return fl.peers[i], true
}

// peerFailed passes a peer failure to OnPeerError.
func (f *Fetcher) peerFailed(p peer.ID, d digest, err error) {
	if f.OnPeerError != nil {
		f.OnPeerError(p, d.String(), err)
	}
}

// broadcast reports progress to every caller of the flight.
func (f *Fetcher) broadcast(fl *flight, done int64) {
	f.mu.Lock()
	callers := append([]*callerProgress(nil), fl.callers...)
	f.mu.Unlock()
	for _, c := range callers {
		c.call(done, fl.total)
	}
}

// containsPeer reports whether ids holds p.
func containsPeer(ids []peer.ID, p peer.ID) bool {
	for _, id := range ids {
		if id == p {
			return true
		}
	}
	return false
}
