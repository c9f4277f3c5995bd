package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	rtapi "github.com/shoal-project/shoal/runtime"
)

func TestWithSecretsMount(t *testing.T) {
	r := &Runtime{root: "/data/ctr"}
	spec := rtapi.TaskSpec{TaskID: "t1"}
	vol := specs.Mount{Type: "bind", Source: "/data/ctr/volumes/v", Destination: "/data", Options: []string{"rbind", "rw"}}
	got, err := r.withSecretsMount(spec, []specs.Mount{vol})
	if err != nil || !reflect.DeepEqual(got, []specs.Mount{vol}) {
		t.Fatalf("without secrets: %v, %v; want the mounts unchanged", got, err)
	}
	spec.Secrets = []rtapi.Secret{{Name: "db-password", Data: []byte("x")}}
	got, err = r.withSecretsMount(spec, []specs.Mount{vol})
	want := specs.Mount{
		Destination: "/run/secrets", Type: "bind", Source: "/data/ctr/tasks/t1/secrets",
		Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"},
	}
	if err != nil || !reflect.DeepEqual(got, []specs.Mount{vol, want}) {
		t.Fatalf("with secrets: %+v, %v; want the volume then %+v", got, err, want)
	}
	for _, dest := range []string{"/run/secrets", "/run/secrets/x"} {
		m := vol
		m.Destination = dest
		if _, err := r.withSecretsMount(spec, []specs.Mount{m}); err == nil || !strings.Contains(err.Error(), "/run/secrets") {
			t.Errorf("a mount at %s beside secrets: %v, want an error", dest, err)
		}
	}
	spec.Secrets = []rtapi.Secret{{Name: "../x"}}
	if _, err := r.withSecretsMount(spec, nil); err == nil || !strings.Contains(err.Error(), "secret name") {
		t.Errorf("an unsafe name: %v, want a secret name error", err)
	}
}

// TestSecretsInContainer runs the hello image with a secret and reads it
// through the container's root: it is at /run/secrets, read-only, and
// Remove takes its tmpfs away.
func TestSecretsInContainer(t *testing.T) {
	const value = "ctr-SECRET-0d5e2b"
	r := newRuntime(t, nil)
	importHello(t, r)
	ctx := context.Background()
	spec, port := helloSpec(t, "sec1")
	spec.Spec.Secrets = []string{"db-password"}
	spec.Secrets = []rtapi.Secret{{Name: "db-password", Data: []byte(value)}}
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, "sec1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hello server to answer", 10*time.Second, func() bool {
		_, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return err == nil
	})
	st, err := r.Status(ctx, "sec1")
	if err != nil || st.PID <= 0 {
		t.Fatalf("status = %+v, %v", st, err)
	}
	proc := fmt.Sprintf("/proc/%d", st.PID)
	if b, err := os.ReadFile(proc + "/root/run/secrets/db-password"); err != nil || string(b) != value {
		t.Fatalf("the container's /run/secrets/db-password = %q, %v; want the secret", b, err)
	}
	if fi, err := os.Stat(proc + "/root/run/secrets/db-password"); err != nil || fi.Mode() != 0o400 {
		t.Errorf("the secret file's mode: %v, %v; want 0400", fi.Mode(), err)
	}
	mi, err := os.ReadFile(proc + "/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == "/run/secrets" {
			line = l
		}
	}
	if f := strings.Fields(line); len(f) < 6 || !strings.HasPrefix(f[5], "ro,") || !strings.Contains(line, " - tmpfs ") {
		t.Errorf("the container's /run/secrets mount: %q, want a read-only tmpfs", line)
	}
	dir := r.secretsDir("sec1")
	if !hostMounted(t, dir) {
		t.Errorf("no tmpfs on %s", dir)
	}
	if err := r.Stop(ctx, "sec1", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove(ctx, "sec1"); err != nil {
		t.Fatal(err)
	}
	if hostMounted(t, dir) {
		t.Errorf("%s still mounted after Remove", dir)
	}
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("task dir after Remove: %v", err)
	}
}

// hostMounted reports whether something is mounted on dir in this
// process's mount namespace.
func hostMounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}
