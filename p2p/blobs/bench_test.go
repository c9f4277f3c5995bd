package blobs

import (
	"context"
	"net"
	"testing"
)

// benchBlobSize is the blob the transfer benchmarks move.
const benchBlobSize = 64 << 20

// benchTransfer fetches a benchBlobSize blob b.N times with fetch, which
// must store it in dst, and reports MB/s.
func benchTransfer(b *testing.B, src, dst *memStore, fetch func(ctx context.Context, dgst string) error) {
	b.Helper()
	d := src.put(randBytes(b, benchBlobSize))
	b.SetBytes(benchBlobSize)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		dst.mu.Lock()
		delete(dst.blobs, d)
		dst.mu.Unlock()
		if err := fetch(context.Background(), d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBlobTransfer moves a 64 MiB blob between two Hosts over libp2p
// (Noise, yamux) with FetchBlob, digest verification included.
func BenchmarkBlobTransfer(b *testing.B) {
	n := newNodes(b, 2)
	a, src := n[0], n[1]
	// Cluster peers are connected already; connect before timing.
	warm := src.store.put([]byte("warm-up"))
	if err := a.fetcher.FetchBlob(context.Background(), warm, 7, ids(src), nil); err != nil {
		b.Fatal(err)
	}
	benchTransfer(b, src.store, a.store, func(ctx context.Context, d string) error {
		return a.fetcher.FetchBlob(ctx, d, benchBlobSize, ids(src), nil)
	})
}

// BenchmarkLoopbackCopy moves the same blob with the same server and
// receiving code over a plain 127.0.0.1 TCP connection into the same kind
// of store: the baseline for BenchmarkBlobTransfer.
func BenchmarkLoopbackCopy(b *testing.B) {
	src, dst := newMemStore(), newMemStore()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := serve(ln, src)
	b.Cleanup(func() { srv.Close() })
	benchTransfer(b, src, dst, func(ctx context.Context, d string) error {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		dg, _ := parseDigest(d)
		if aerr := receive(ctx, conn, "loopback", dg, benchBlobSize, dst, DefaultStallTimeout,
			func(int64) {}, func(int64) {}); aerr != nil {
			return aerr.err
		}
		return nil
	})
}
