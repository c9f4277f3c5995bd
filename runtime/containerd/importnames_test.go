package containerd

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/images"

	"github.com/shoal-project/shoal/cmd/mkimage/imagebuild"
)

// ociArchive is the hello image in an OCI layout whose index entry
// carries exactly anns.
func ociArchive(t *testing.T, anns map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := imagebuild.WriteOCIArchiveAnnotated(&buf, env.helloImg, anns); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dockerArchive is the hello image in a docker-archive with RepoTags tags.
func dockerArchive(t *testing.T, tags ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := imagebuild.WriteDockerArchive(&buf, env.helloImg, tags...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	refName = imagebuild.AnnotationRefName
	ctrName = imagebuild.AnnotationContainerdName
)

// Whatever form an archive names its image in (docker-archive RepoTags, an
// OCI ref.name or io.containerd.image.name annotation; with or without
// registry, namespace and tag), the image is stored, listed and found
// under the normalized name, and a short name finds and removes it.
func TestImportNormalizesNames(t *testing.T) {
	cases := []struct {
		name  string
		tar   func(t *testing.T) []byte
		short string // how a user names it
		want  string // the stored name
	}{
		{"oci-ref-name-namespace-tag", func(t *testing.T) []byte { return ociArchive(t, map[string]string{refName: "local/busybox:1"}) }, "local/busybox:1", "docker.io/local/busybox:1"},
		{"oci-containerd-name-namespace-tag", func(t *testing.T) []byte { return ociArchive(t, map[string]string{ctrName: "local/busybox:1"}) }, "local/busybox:1", "docker.io/local/busybox:1"},
		{"oci-both-short", func(t *testing.T) []byte {
			return ociArchive(t, map[string]string{refName: "local/busybox:1", ctrName: "local/busybox:1"})
		}, "local/busybox:1", "docker.io/local/busybox:1"},
		{"oci-containerd-name-bare", func(t *testing.T) []byte { return ociArchive(t, map[string]string{ctrName: "busybox"}) }, "busybox", "docker.io/library/busybox:latest"},
		{"oci-ref-name-tag-only-plus-containerd-name", func(t *testing.T) []byte {
			return ociArchive(t, map[string]string{refName: "1", ctrName: "local/busybox:1"})
		}, "local/busybox:1", "docker.io/local/busybox:1"},
		{"oci-ref-name-single-with-tag", func(t *testing.T) []byte { return ociArchive(t, map[string]string{refName: "busybox:1"}) }, "busybox:1", "docker.io/library/busybox:1"},
		{"oci-registry-port", func(t *testing.T) []byte {
			return ociArchive(t, map[string]string{refName: "127.0.0.1:5000/x:2", ctrName: "127.0.0.1:5000/x:2"})
		}, "127.0.0.1:5000/x:2", "127.0.0.1:5000/x:2"},
		{"oci-registry-no-tag", func(t *testing.T) []byte { return ociArchive(t, map[string]string{ctrName: "registry.local/team/x"}) }, "registry.local/team/x", "registry.local/team/x:latest"},
		{"oci-full", func(t *testing.T) []byte {
			return ociArchive(t, map[string]string{ctrName: "docker.io/local/busybox:1"})
		}, "local/busybox:1", "docker.io/local/busybox:1"},
		{"docker-namespace-tag", func(t *testing.T) []byte { return dockerArchive(t, "local/busybox:1") }, "local/busybox:1", "docker.io/local/busybox:1"},
		{"docker-bare", func(t *testing.T) []byte { return dockerArchive(t, "busybox") }, "busybox", "docker.io/library/busybox:latest"},
		{"docker-registry-port", func(t *testing.T) []byte { return dockerArchive(t, "127.0.0.1:5000/x:2") }, "127.0.0.1:5000/x:2", "127.0.0.1:5000/x:2"},
		{"docker-full", func(t *testing.T) []byte { return dockerArchive(t, "docker.io/library/busybox:3") }, "busybox:3", "docker.io/library/busybox:3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t, nil)
			ctx := context.Background()
			infos, err := r.ImportImage(ctx, bytes.NewReader(tc.tar(t)))
			if err != nil {
				t.Fatal(err)
			}
			if len(infos) != 1 || infos[0].Ref != tc.want {
				t.Fatalf("imported %+v, want one image %s", infos, tc.want)
			}
			list, err := r.Images(ctx)
			if err != nil || len(list) != 1 || list[0].Ref != tc.want || list[0].Digest != infos[0].Digest {
				t.Fatalf("Images = %+v, %v; want only %s", list, err, tc.want)
			}
			for _, name := range []string{tc.short, tc.want} {
				if ok, err := r.HasImage(ctx, name); err != nil || !ok {
					t.Fatalf("HasImage(%q) = %v, %v", name, ok, err)
				}
			}
			if err := r.RemoveImage(ctx, tc.short); err != nil {
				t.Fatal(err)
			}
			assertEmpty(t, r)
		})
	}
}

// An archive whose name is no valid reference is refused with a one-line
// error that names it, and leaves nothing; so is one that names nothing.
func TestImportRefusesBadNames(t *testing.T) {
	cases := []struct {
		name string
		anns map[string]string
		want string
	}{
		{"containerd-name-uppercase", map[string]string{ctrName: "local/BusyBox:1"}, `io.containerd.image.name: image reference "local/BusyBox:1": invalid reference format`},
		{"ref-name-uppercase", map[string]string{refName: "local/BusyBox:1"}, `org.opencontainers.image.ref.name: image reference "local/BusyBox:1": invalid reference format`},
		{"ref-name-bad-tag", map[string]string{refName: "local/busybox:"}, `image reference "local/busybox:": invalid reference format`},
		{"bare-tag-only", map[string]string{refName: "v1"}, "it names no image"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t, nil)
			infos, err := r.ImportImage(context.Background(), bytes.NewReader(ociArchive(t, tc.anns)))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("ImportImage = %+v, %v; want a one-line error with %q", infos, err, tc.want)
			}
			assertEmpty(t, r)
		})
	}
}

// A short-named archive of another image moves the normalized name to it
// and leaves no short alias behind.
func TestImportShortNameRetargetsFullName(t *testing.T) {
	r := newRuntime(t, nil)
	ctx := context.Background()
	importHello(t, r)
	other, err := imagebuild.Build(imagebuild.Spec{Binary: filepath.Join(filepath.Dir(env.dir), "hello"), Path: "/hello", Env: []string{"VARIANT=2"}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := imagebuild.WriteOCIArchiveAnnotated(&buf, other, map[string]string{ctrName: "shoal/hello:v1"}); err != nil {
		t.Fatal(err)
	}
	infos, err := r.ImportImage(ctx, &buf)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := other.Digest()
	list, err := r.Images(ctx)
	if err != nil || len(list) != 1 || list[0].Ref != helloRef || list[0].Digest != want.String() || infos[0].Digest != want.String() {
		t.Fatalf("Images = %+v, %v; want only %s at %s", list, err, helloRef, want)
	}
}

// An image another tool (or an older Shoal) created under a short name is
// removed along with the normalized one.
func TestRemoveImageRemovesShortAliases(t *testing.T) {
	r := newRuntime(t, nil)
	ctx := context.Background()
	importHello(t, r)
	is := r.client.ImageService()
	full, err := is.Get(r.withNS(ctx), helloRef)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Create(r.withNS(ctx), images.Image{Name: "shoal/hello:v1", Target: full.Target}); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveImage(ctx, "shoal/hello:v1"); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, r)
}
