package containerd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// assertEmpty checks that r's namespace holds nothing at all.
func assertEmpty(t *testing.T, r *Runtime) {
	t.Helper()
	if l := leftovers(t, r); len(l) > 0 {
		t.Fatalf("left behind: %v", l)
	}
}

func TestPullFromRegistry(t *testing.T) {
	r := newRuntime(t, func(c *Config) {
		c.Registries = map[string]RegistryConfig{env.registry: {Insecure: true}}
	})
	ctx := context.Background()
	spec, _ := helloSpec(t, "pull1")
	spec.Spec.Image = env.pushed
	if ok, err := r.HasImage(ctx, env.pushed); err != nil || ok {
		t.Fatalf("HasImage before pull = %v, %v", ok, err)
	}
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.HasImage(ctx, env.pushed); err != nil || !ok {
		t.Fatalf("HasImage after pull = %v, %v", ok, err)
	}
	if err := r.Start(ctx, "pull1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Stop(ctx, "pull1", -1); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Status(ctx, "pull1"); st.ExitCode != 137 {
		t.Fatalf("status after kill = %+v, want 137", st)
	}
	if err := r.Remove(ctx, "pull1"); err != nil {
		t.Fatal(err)
	}
	assertGone(t, r, "pull1")
	if err := r.RemoveImage(ctx, env.pushed); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, r)
}

func TestPrepareErrorsLeaveNothing(t *testing.T) {
	closed, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, image string
		insecure    bool
		want        string
	}{
		{"bad-ref", "Not A Ref!", false, "invalid reference format"},
		{"plain-http-refused", env.pushed, false, "HTTP response to HTTPS client"},
		{"unreachable", fmt.Sprintf("127.0.0.1:%d/shoal/hello:v1", closed), true, "connection refused"},
		{"missing-image", env.registry + "/shoal/nothing:v1", true, "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			host := strings.SplitN(tc.image, "/", 2)[0]
			r := newRuntime(t, func(c *Config) {
				c.Registries = map[string]RegistryConfig{host: {Insecure: tc.insecure}}
			})
			spec, _ := helloSpec(t, "bad1")
			spec.Spec.Image = tc.image
			err := r.Prepare(context.Background(), spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Prepare = %v, want a one-line error with %q", err, tc.want)
			}
			if _, err := r.Status(context.Background(), "bad1"); err == nil {
				t.Error("the task exists after a failed Prepare")
			}
			assertGone(t, r, "bad1")
			assertEmpty(t, r)
		})
	}
}

func TestPrepareRejectsBadSpecs(t *testing.T) {
	allowed := t.TempDir()
	r := newRuntime(t, func(c *Config) { c.AllowBindPrefixes = []string{allowed} })
	importHello(t, r)
	ctx := context.Background()
	cases := []struct {
		name string
		mod  func(*api.ServiceSpec)
		want string
	}{
		{"bind-outside-prefix", func(s *api.ServiceSpec) {
			s.Mounts = []api.Mount{{Type: api.MountBind, Source: "/etc", Target: "/x"}}
		}, "not under an allowed prefix"},
		{"bind-relative", func(s *api.ServiceSpec) {
			s.Mounts = []api.Mount{{Type: api.MountBind, Source: "etc", Target: "/x"}}
		}, "absolute host path"},
		{"bad-volume", func(s *api.ServiceSpec) {
			s.Mounts = []api.Mount{{Type: api.MountVolume, Source: "../up", Target: "/x"}}
		}, "volume name"},
		{"bad-env", func(s *api.ServiceSpec) { s.Env = []string{"NOEQUALS"} }, "not KEY=VALUE"},
		{"bad-signal", func(s *api.ServiceSpec) { s.StopSignal = "SIGNOPE" }, "unknown signal"},
		{"negative-memory", func(s *api.ServiceSpec) { s.Limits.MemoryBytes = -1 }, "negative"},
		{"no-image", func(s *api.ServiceSpec) { s.Image = "" }, "no image"},
	}
	for _, tc := range cases {
		spec, _ := helloSpec(t, "badspec")
		tc.mod(&spec.Spec)
		err := r.Prepare(ctx, spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Prepare = %v, want %q", tc.name, err, tc.want)
		}
		assertGone(t, r, "badspec")
	}
	// A read-only bind mount under the prefix is accepted and in the spec.
	spec, _ := helloSpec(t, "bind1")
	spec.Spec.Mounts = []api.Mount{{Type: api.MountBind, Source: allowed, Target: "/host", ReadOnly: true}}
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	c, err := r.load(ctx, "bind1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Spec(r.withNS(ctx))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range s.Mounts {
		if m.Destination == "/host" && m.Source == allowed && strings.Contains(strings.Join(m.Options, ","), "ro") {
			found = true
		}
	}
	if !found {
		t.Errorf("bind mount not in the OCI spec: %+v", s.Mounts)
	}
}

func TestCorruptImportLeavesNothing(t *testing.T) {
	r := newRuntime(t, nil)
	good := env.helloTar
	// Flip bytes in the middle of the layer blob (the bulk of the tar).
	flipped := bytes.Clone(good)
	for i := len(flipped) / 2; i < len(flipped)/2+64; i++ {
		flipped[i] ^= 0xff
	}
	cases := map[string][]byte{
		"flipped":   flipped,
		"truncated": good[:len(good)/2],
		"garbage":   []byte("this is not a tar archive at all, not even close........" + strings.Repeat("x", 1024)),
		"empty":     nil,
	}
	for name, data := range cases {
		infos, err := r.ImportImage(context.Background(), bytes.NewReader(data))
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%s: ImportImage = %v, %v; want a one-line error", name, infos, err)
		}
		t.Logf("%s: %v", name, err)
		assertEmpty(t, r)
	}
	importHello(t, r) // the runtime still works
}

func TestBlobsAndCreateImage(t *testing.T) {
	src := newRuntime(t, nil)
	importHello(t, src)
	dst := newRuntime(t, func(c *Config) { c.Namespace = testNS(t) + "-dst" })
	ctx := context.Background()

	// A blob whose bytes do not match its digest is refused and not kept.
	data := []byte("some blob content")
	wrong := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("other")))
	if err := dst.WriteBlob(ctx, wrong, int64(len(data)), bytes.NewReader(data)); err == nil {
		t.Fatal("WriteBlob accepted a blob that does not match its digest")
	}
	if ok, err := dst.HasBlob(ctx, wrong); err != nil || ok {
		t.Fatalf("HasBlob(wrong) = %v, %v", ok, err)
	}
	right := fmt.Sprintf("sha256:%x", sha256.Sum256(data))
	if err := dst.WriteBlob(ctx, right, int64(len(data))+1, bytes.NewReader(data)); err == nil {
		t.Fatal("WriteBlob accepted a blob of the wrong size")
	}
	if err := dst.WriteBlob(ctx, "sha256:nothex", 1, bytes.NewReader(data)); err == nil {
		t.Fatal("WriteBlob accepted a malformed digest")
	}
	if err := dst.WriteBlob(ctx, right, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	rc, n, err := dst.ReadBlob(ctx, right)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if n != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("ReadBlob = %q (%d), want %q", got, n, data)
	}

	// Copy the hello image blob by blob, as the image-sharing layer does.
	imgs, err := src.Images(ctx)
	if err != nil || len(imgs) != 1 {
		t.Fatalf("Images = %+v, %v", imgs, err)
	}
	img := imgs[0]
	if img.TotalSize <= img.Size {
		t.Errorf("TotalSize %d should exceed the manifest's size %d", img.TotalSize, img.Size)
	}
	blobs := blobsOf(t, src)
	if err := dst.CreateImage(ctx, img.Ref, img.Digest, img.MediaType, img.Size); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("CreateImage without blobs = %v, want a missing-blob error", err)
	}
	for _, d := range blobs {
		rc, size, err := src.ReadBlob(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		err = dst.WriteBlob(ctx, d, size, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := dst.CreateImage(ctx, img.Ref, img.Digest, img.MediaType, img.Size); err != nil {
		t.Fatal(err)
	}
	if ok, err := dst.HasImage(ctx, "shoal/hello:v1"); err != nil || !ok {
		t.Fatalf("HasImage after CreateImage = %v, %v", ok, err)
	}
	spec, _ := helloSpec(t, "copied1")
	if err := dst.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := dst.Start(ctx, "copied1"); err != nil {
		t.Fatal(err)
	}
	if st, err := dst.Status(ctx, "copied1"); err != nil || st.State != rtapi.StateRunning {
		t.Fatalf("status = %+v, %v", st, err)
	}
	if err := dst.Remove(ctx, "copied1"); err != nil {
		t.Fatal(err)
	}
	if err := dst.RemoveImage(ctx, "shoal/hello:v1"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := dst.HasImage(ctx, "shoal/hello:v1"); ok {
		t.Fatal("image still there after RemoveImage")
	}
}

// blobsOf lists the digests in r's content store.
func blobsOf(t *testing.T, r *Runtime) []string {
	t.Helper()
	var out []string
	for _, l := range leftovers(t, r) {
		if d, ok := strings.CutPrefix(l, "blob "); ok {
			out = append(out, d)
		}
	}
	if len(out) < 3 {
		t.Fatalf("only %d blobs: %v", len(out), out)
	}
	return out
}
