package node

import (
	"reflect"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime/containerd"
)

// The report names images as every lookup does: normalized, one record
// per name, the image already under the full name preferred over a short
// alias, names that are no reference left out.
func TestHeldImagesNormalizes(t *testing.T) {
	in := []containerd.ImageInfo{
		{Ref: "127.0.0.1:5000/x:2", Digest: "sha256:r"},
		{Ref: "Bad Name", Digest: "sha256:bad"},
		{Ref: "busybox", Digest: "sha256:b"},
		{Ref: "docker.io/local/hello:1", Digest: "sha256:full"},
		{Ref: "local/busybox:1", Digest: "sha256:lb"},
		{Ref: "local/hello:1", Digest: "sha256:short"},
	}
	want := []api.ImageRef{
		{Ref: "127.0.0.1:5000/x:2", Digest: "sha256:r"},
		{Ref: "docker.io/library/busybox:latest", Digest: "sha256:b"},
		{Ref: "docker.io/local/busybox:1", Digest: "sha256:lb"},
		{Ref: "docker.io/local/hello:1", Digest: "sha256:full"},
	}
	if got := heldImages(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("heldImages = %+v\nwant %+v", got, want)
	}
	// The full name wins whichever comes first.
	in[3], in[5] = in[5], in[3]
	if got := heldImages(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("heldImages (short name first) = %+v\nwant %+v", got, want)
	}
	if got := heldImages(nil); got == nil || len(got) != 0 {
		t.Fatalf("heldImages(nil) = %#v, want an empty list", got)
	}
}
