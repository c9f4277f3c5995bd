package imagebuild

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func fakeBinary(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hello")
	if err := os.WriteFile(p, []byte("#!fake binary\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBuildIsDeterministic(t *testing.T) {
	bin := fakeBinary(t)
	a, err := Build(Spec{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(Spec{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if da != db {
		t.Fatalf("digests differ: %s %s", da, db)
	}
	cf, err := a.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/hello" || cf.OS != "linux" {
		t.Fatalf("config = %+v", cf.Config)
	}
	layers, _ := a.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers", len(layers))
	}
	rc, _ := layers[0].Uncompressed()
	defer rc.Close()
	hdr, err := tar.NewReader(rc).Next()
	if err != nil || hdr.Name != "hello" || hdr.Mode&0o111 == 0 {
		t.Fatalf("layer entry = %+v, %v", hdr, err)
	}
}

func TestBuildErrors(t *testing.T) {
	bin := fakeBinary(t)
	cases := map[string]Spec{
		"no binary":     {},
		"missing":       {Binary: bin + ".nope"},
		"relative path": {Binary: bin, Path: "hello"},
		"root path":     {Binary: bin, Path: "/"},
		"bad env":       {Binary: bin, Env: []string{"NOEQ"}},
	}
	for name, s := range cases {
		if _, err := Build(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestWriteOCIArchive(t *testing.T) {
	img, err := Build(Spec{Binary: fakeBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteOCIArchive(&buf, img, "shoal/hello:v1"); err != nil {
		t.Fatal(err)
	}
	files := untar(t, &buf)
	var idx struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal(files["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations[AnnotationContainerdName] != "docker.io/shoal/hello:v1" {
		t.Fatalf("index = %+v", idx)
	}
	if _, ok := files["blobs/sha256/"+strings.TrimPrefix(idx.Manifests[0].Digest, "sha256:")]; !ok {
		t.Fatal("manifest blob missing from the archive")
	}
	if _, ok := files["oci-layout"]; !ok {
		t.Fatal("oci-layout missing")
	}
	if err := WriteOCIArchive(io.Discard, img, "Bad Ref"); err == nil {
		t.Fatal("bad ref accepted")
	}
}

// untar reads a tarball into a map of file name to content.
func untar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	tr := tar.NewReader(r)
	files := map[string][]byte{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[hdr.Name] = b
	}
}

func TestWriteOCIArchiveAnnotatedKeepsNames(t *testing.T) {
	img, err := Build(Spec{Binary: fakeBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteOCIArchiveAnnotated(&buf, img, map[string]string{AnnotationRefName: "local/busybox:1"}); err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Manifests []struct{ Annotations map[string]string }
	}
	if err := json.Unmarshal(untar(t, &buf)["index.json"], &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 || len(idx.Manifests[0].Annotations) != 1 || idx.Manifests[0].Annotations[AnnotationRefName] != "local/busybox:1" {
		t.Fatalf("index = %+v", idx)
	}
}

func TestWriteDockerArchive(t *testing.T) {
	img, err := Build(Spec{Binary: fakeBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteDockerArchive(&buf, img, "local/busybox:1"); err != nil {
		t.Fatal(err)
	}
	var m []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	files := untar(t, &buf)
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != "local/busybox:1" || len(m[0].Layers) != 1 {
		t.Fatalf("manifest.json = %+v", m)
	}
	if _, ok := files[m[0].Config]; !ok {
		t.Fatalf("config %s missing from the archive", m[0].Config)
	}
	if err := WriteDockerArchive(io.Discard, img); err == nil {
		t.Fatal("archive without a tag accepted")
	}
	if err := WriteDockerArchive(io.Discard, img, "Bad Ref"); err == nil {
		t.Fatal("bad tag accepted")
	}
}

// TestBuildHealthcheck: Spec.Healthcheck lands in the config blob as
// docker's config.Healthcheck (what the containerd runtime reads).
func TestBuildHealthcheck(t *testing.T) {
	img, err := Build(Spec{Binary: fakeBinary(t), Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "/hello", "-check", "http://127.0.0.1:8080/"}, Interval: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	want := `"Healthcheck":{"Test":["CMD","/hello","-check","http://127.0.0.1:8080/"],"Interval":1000000000}`
	if !strings.Contains(string(raw), want) {
		t.Fatalf("config %s\nlacks %s", raw, want)
	}
}
