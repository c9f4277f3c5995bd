package blobs

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ImageLayerParallelism is how many blobs of one image manifest FetchImage
// transfers at once.
const ImageLayerParallelism = 3

// maxManifestDepth bounds index nesting.
const maxManifestDepth = 4

// FetchImage makes sure the image rooted at root (an OCI index or image
// manifest, or a Docker schema2 manifest or manifest list) is in the store:
// it fetches the root blob, parses it and fetches its children, each blob
// once: the sub-manifests of an index that match f.Platform, and the
// config and layers of a manifest, ImageLayerParallelism at a time. It
// stops at the first blob no peer can serve. progress is called for every
// blob, never concurrently.
func (f *Fetcher) FetchImage(ctx context.Context, root Descriptor, peers []peer.ID, progress Progress) error {
	if _, err := parseDigest(root.Digest); err != nil {
		return fmt.Errorf("fetch image: root: %w", err)
	}
	if root.Size < 0 || root.Size > maxManifestSize {
		return fmt.Errorf("fetch image %s: root size %d outside 0-%d", root.Digest, root.Size, maxManifestSize)
	}
	w := &imageWalk{f: f, peers: peers, seen: map[string]bool{}}
	if progress != nil {
		var mu sync.Mutex
		w.progress = func(dgst string, done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			progress(dgst, done, total)
		}
	}
	if err := w.manifest(ctx, childJSON{MediaType: root.MediaType, Digest: root.Digest, Size: root.Size}, 0); err != nil {
		return fmt.Errorf("fetch image %s: %w", root.Digest, err)
	}
	return nil
}

// imageWalk is the state of one FetchImage call.
type imageWalk struct {
	f        *Fetcher
	peers    []peer.ID
	progress Progress
	seen     map[string]bool // blobs fetched or scheduled; walk goroutine only
}

// manifest fetches and parses manifest desc, then fetches its children.
func (w *imageWalk) manifest(ctx context.Context, desc childJSON, depth int) error {
	if depth > maxManifestDepth {
		return fmt.Errorf("manifest %s: indexes nested deeper than %d", desc.Digest, maxManifestDepth)
	}
	if desc.Size > maxManifestSize {
		return fmt.Errorf("manifest %s: size %d exceeds limit of %d bytes", desc.Digest, desc.Size, maxManifestSize)
	}
	w.seen[desc.Digest] = true
	if err := w.f.FetchBlob(ctx, desc.Digest, desc.Size, w.peers, w.progress); err != nil {
		return err
	}
	data, err := w.readLocal(ctx, desc.Digest)
	if err != nil {
		return err
	}
	m, err := parseManifest(desc.MediaType, data)
	if err != nil {
		return fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if m.kind == kindIndex {
		matched := 0
		for _, c := range m.children {
			if !matchPlatform(w.f.Platform, c.Platform) {
				continue
			}
			matched++
			if w.seen[c.Digest] {
				continue
			}
			if err := w.manifest(ctx, c, depth+1); err != nil {
				return err
			}
		}
		if matched == 0 {
			return fmt.Errorf("index %s has no manifest for platform %s", desc.Digest, w.f.Platform)
		}
		return nil
	}
	var todo []childJSON
	for _, c := range m.children {
		if !w.seen[c.Digest] {
			w.seen[c.Digest] = true
			todo = append(todo, c)
		}
	}
	return w.blobs(ctx, todo)
}

// blobs fetches descs, ImageLayerParallelism at a time, and returns the
// first error after cancelling the rest.
func (w *imageWalk) blobs(ctx context.Context, descs []childJSON) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, ImageLayerParallelism)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, c := range descs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := w.f.FetchBlob(ctx, c.Digest, c.Size, w.peers, w.progress); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// readLocal reads a manifest blob back from the store.
func (w *imageWalk) readLocal(ctx context.Context, dgst string) ([]byte, error) {
	rc, size, err := w.f.store.ReadBlob(ctx, dgst)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s from store: %w", dgst, err)
	}
	defer rc.Close()
	if size > maxManifestSize {
		return nil, fmt.Errorf("manifest %s: size %d exceeds limit of %d bytes", dgst, size, maxManifestSize)
	}
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s from store: %w", dgst, err)
	}
	return data, nil
}
