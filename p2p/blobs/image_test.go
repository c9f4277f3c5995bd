package blobs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// putJSON stores v as JSON and returns its descriptor.
func putJSON(t *testing.T, st *memStore, mediaType string, v any) Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return Descriptor{MediaType: mediaType, Digest: st.put(b), Size: int64(len(b))}
}

// putBlob stores random bytes and returns their descriptor.
func putBlob(t *testing.T, st *memStore, mediaType string, n int) Descriptor {
	t.Helper()
	return Descriptor{MediaType: mediaType, Digest: st.put(randBytes(t, n)), Size: int64(n)}
}

const layerType = "application/vnd.oci.image.layer.v1.tar+gzip"

// putManifest stores an image manifest of mediaType over config and layers.
func putManifest(t *testing.T, st *memStore, mediaType string, config Descriptor, layers ...Descriptor) Descriptor {
	t.Helper()
	return putJSON(t, st, mediaType, map[string]any{
		"schemaVersion": 2, "mediaType": mediaType, "config": config, "layers": layers,
	})
}

// testImages is two images sharing a layer, stored on one node.
type testImages struct {
	index, second Descriptor
	// wanted are the blobs of index for linux/amd64; arm are the
	// blobs only its linux/arm64 manifest needs; secondOnly are second's
	// blobs not in index.
	wanted, arm, secondOnly []Descriptor
	shared                  Descriptor
}

// buildImages stores: an OCI index → {amd64 manifest → config + 3 layers
// (one shared), arm64 manifest → config + layer}; and a Docker schema2
// manifest → config + the shared layer + its own layer.
func buildImages(t *testing.T, st *memStore) testImages {
	var im testImages
	cfg := putBlob(t, st, "application/vnd.oci.image.config.v1+json", 700)
	l1 := putBlob(t, st, layerType, 200<<10)
	l2 := putBlob(t, st, layerType, 300<<10)
	im.shared = putBlob(t, st, layerType, 500<<10)
	amd := putManifest(t, st, MediaTypeOCIManifest, cfg, l1, im.shared, l2)
	armCfg := putBlob(t, st, "application/vnd.oci.image.config.v1+json", 650)
	armLayer := putBlob(t, st, layerType, 100<<10)
	arm := putManifest(t, st, MediaTypeOCIManifest, armCfg, armLayer)
	type child struct {
		Descriptor
		Platform platform `json:"platform"`
	}
	im.index = putJSON(t, st, MediaTypeOCIIndex, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeOCIIndex,
		"manifests": []child{
			{arm, platform{OS: "linux", Architecture: "arm64"}},
			{amd, platform{OS: "linux", Architecture: "amd64"}},
		},
	})
	im.wanted = []Descriptor{im.index, amd, cfg, l1, l2, im.shared}
	im.arm = []Descriptor{arm, armCfg, armLayer}
	cfg2 := putBlob(t, st, "application/vnd.docker.container.image.v1+json", 800)
	l3 := putBlob(t, st, "application/vnd.docker.image.rootfs.diff.tar.gzip", 250<<10)
	im.second = putManifest(t, st, MediaTypeDockerManifest, cfg2, im.shared, l3)
	im.secondOnly = []Descriptor{im.second, cfg2, l3}
	return im
}

// assertReads checks the server read each blob want times and that the
// fetching store has it iff want > 0.
func assertReads(t *testing.T, server, client *memStore, want int, descs ...Descriptor) {
	t.Helper()
	for _, d := range descs {
		if got := server.readCount(d.Digest); got != want {
			t.Errorf("blob %s (%s) read %d times, want %d", d.Digest, d.MediaType, got, want)
		}
		if _, ok := client.get(d.Digest); ok != (want > 0) {
			t.Errorf("blob %s (%s): present %v, want %v", d.Digest, d.MediaType, ok, want > 0)
		}
	}
}

func TestFetchImageFetchesEachBlobOnce(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	im := buildImages(t, b.store)
	a.fetcher.Platform = "linux/amd64"
	var log progressLog
	if err := a.fetcher.FetchImage(testCtx(t), im.index, ids(b), log.fn); err != nil {
		t.Fatal(err)
	}
	assertReads(t, b.store, a.store, 1, im.wanted...)
	assertReads(t, b.store, a.store, 0, im.arm...)
	for _, d := range im.wanted {
		log.check(t, d.Digest, d.Size)
	}
	// The second image needs only its own blobs; the shared layer is local.
	if err := a.fetcher.FetchImage(testCtx(t), im.second, ids(b), nil); err != nil {
		t.Fatal(err)
	}
	assertReads(t, b.store, a.store, 1, im.secondOnly...)
	assertReads(t, b.store, a.store, 1, im.shared)
}

func TestConcurrentFetchImageSharesLayer(t *testing.T) {
	n := newNodes(t, 3)
	a, b, c := n[0], n[1], n[2]
	im := buildImages(t, b.store)
	for _, d := range append(im.wanted, im.secondOnly...) {
		data, _ := b.store.get(d.Digest)
		c.store.put(data)
	}
	a.fetcher.Platform = "linux/amd64"
	errs := make(chan error, 2)
	go func() { errs <- a.fetcher.FetchImage(testCtx(t), im.index, ids(b, c), nil) }()
	go func() { errs <- a.fetcher.FetchImage(testCtx(t), im.second, ids(b, c), nil) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range append(im.wanted, im.secondOnly...) {
		if r := b.store.readCount(d.Digest) + c.store.readCount(d.Digest); r != 1 {
			t.Errorf("blob %s read %d times in all, want 1", d.Digest, r)
		}
	}
	if _, ok := a.store.get(im.shared.Digest); !ok {
		t.Fatal("shared layer missing")
	}
}

func TestFetchImageAllPlatforms(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	im := buildImages(t, b.store)
	a.fetcher.Platform = "*"
	if err := a.fetcher.FetchImage(testCtx(t), im.index, ids(b), nil); err != nil {
		t.Fatal(err)
	}
	assertReads(t, b.store, a.store, 1, append(im.wanted, im.arm...)...)
}

func TestFetchImageNoMatchingPlatform(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	im := buildImages(t, b.store)
	a.fetcher.Platform = "windows/amd64"
	err := a.fetcher.FetchImage(testCtx(t), im.index, ids(b), nil)
	if err == nil || !strings.Contains(err.Error(), "no manifest for platform windows/amd64") {
		t.Fatalf("want a no-matching-platform error, got %v", err)
	}
}

func TestFetchImageDockerListWithoutMediaType(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	cfg := putBlob(t, b.store, "application/vnd.docker.container.image.v1+json", 500)
	layer := putBlob(t, b.store, "application/vnd.docker.image.rootfs.diff.tar.gzip", 1000)
	m := putManifest(t, b.store, MediaTypeDockerManifest, cfg, layer)
	list := putJSON(t, b.store, MediaTypeDockerManifestList, map[string]any{
		"schemaVersion": 2, "mediaType": MediaTypeDockerManifestList,
		"manifests": []map[string]any{{
			"mediaType": m.MediaType, "digest": m.Digest, "size": m.Size,
			"platform": map[string]string{"os": "linux", "architecture": "amd64"},
		}},
	})
	a.fetcher.Platform = "linux/amd64"
	list.MediaType = "" // detected from the document
	if err := a.fetcher.FetchImage(testCtx(t), list, ids(b), nil); err != nil {
		t.Fatal(err)
	}
	assertReads(t, b.store, a.store, 1, list, m, cfg, layer)
}

func TestFetchImageMissingLayerFails(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	cfg := putBlob(t, b.store, "application/vnd.oci.image.config.v1+json", 500)
	missing := Descriptor{MediaType: layerType, Digest: sha([]byte("absent")), Size: 6}
	m := putManifest(t, b.store, MediaTypeOCIManifest, cfg, missing)
	err := a.fetcher.FetchImage(testCtx(t), m, ids(b), nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), missing.Digest) {
		t.Fatalf("want a not-found error naming %s, got %v", missing.Digest, err)
	}
}

func TestFetchImageBadRoot(t *testing.T) {
	n := newNodes(t, 2)
	a, b := n[0], n[1]
	notManifest := putBlob(t, b.store, MediaTypeOCIManifest, 100) // random bytes
	for _, tc := range []struct {
		root Descriptor
		want string
	}{
		{Descriptor{Digest: "nope"}, "missing algorithm"},
		{Descriptor{Digest: sha(nil), Size: 5 << 20}, "root size"},
		{notManifest, "decode manifest"},
	} {
		err := a.fetcher.FetchImage(testCtx(t), tc.root, ids(b), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FetchImage(%+v) = %v, want error containing %q", tc.root, err, tc.want)
		}
	}
}
