package process

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// mountsAt lists the mountinfo lines of this process whose mount point is
// dir.
func mountsAt(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == dir {
			out = append(out, l)
		}
	}
	return out
}

func TestSecretsOnTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("secrets need root for their tmpfs")
	}
	const value = "s3cr3t-DB-pass-7f1e"
	r := newRuntime(t, Config{})
	ctx := ctxT(t)
	spec := shTask("t-sec", `cat "$SHOAL_SECRETS_DIR/db-password"`)
	spec.Spec.Env = []string{"SHOAL_SECRETS_DIR=/elsewhere"}
	spec.Spec.Secrets = []string{"db-password", "tls.key"}
	spec.Secrets = []rtapi.Secret{{Name: "db-password", Data: []byte("stale")}, {Name: "tls.key", Data: []byte("key")}}
	if err := r.Prepare(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// Prepared again before it starts: the secrets are replaced.
	spec.Secrets[0].Data = []byte(value)
	startTask(t, r, spec)
	if st, err := r.Wait(ctx, "t-sec"); err != nil || st.ExitCode != 0 {
		t.Fatalf("wait = %+v, %v", st, err)
	}
	if out := readLog(t, r, "t-sec", -1); out != value {
		t.Fatalf("the task printed %q, want the secret %q", out, value)
	}

	dir := filepath.Join(r.root, "tasks", "t-sec", secretsDirName)
	m := mountsAt(t, dir)
	if len(m) != 1 {
		t.Fatalf("mounts on %s: %q, want one", dir, m)
	}
	opts, fsType := strings.Fields(m[0])[5], strings.Fields(m[0][strings.Index(m[0], " - ")+3:])[0]
	if fsType != "tmpfs" {
		t.Errorf("%s is a %s, want a tmpfs", dir, fsType)
	}
	for _, o := range []string{"nosuid", "nodev", "noexec"} {
		if !strings.Contains(","+opts+",", ","+o+",") {
			t.Errorf("mount options %q lack %s", opts, o)
		}
	}
	for path, want := range map[string]fs.FileMode{dir: fs.ModeDir | 0o500, filepath.Join(dir, "db-password"): 0o400, filepath.Join(dir, "tls.key"): 0o400} {
		if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", path, fi.Mode(), err, want)
		}
	}
	// Only the tmpfs and the task's own output hold the value.
	sawSpec := false
	err := filepath.WalkDir(r.root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case path == dir:
			return filepath.SkipDir
		case !d.Type().IsRegular() || strings.HasPrefix(d.Name(), logFile):
			return nil
		}
		sawSpec = sawSpec || d.Name() == specFile
		b, err := os.ReadFile(path)
		if err == nil && bytes.Contains(b, []byte(value)) {
			t.Errorf("%s holds the secret", path)
		}
		return err
	})
	if err != nil || !sawSpec {
		t.Fatalf("walking the root: %v (launch spec seen: %v)", err, sawSpec)
	}

	// A new Runtime (an agent restart) removes it all.
	r2, err := New(Config{Root: r.root, ShimCommand: r.shim})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Remove(ctx, "t-sec"); err != nil {
		t.Fatal(err)
	}
	if m := mountsAt(t, dir); len(m) != 0 {
		t.Fatalf("still mounted after Remove: %q", m)
	}
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("task dir after Remove: %v", err)
	}
}

func TestUnsafeSecretNameRefused(t *testing.T) {
	r := newRuntime(t, Config{})
	ctx := ctxT(t)
	for _, name := range []string{"../escape", "a/b", ".", "..", ""} {
		spec := shTask("t-bad", "true")
		spec.Secrets = []rtapi.Secret{{Name: name, Data: []byte("x")}}
		err := r.Prepare(ctx, spec)
		if err == nil || !strings.Contains(err.Error(), "secret name") {
			t.Errorf("secret name %q: Prepare = %v, want a secret name error", name, err)
		}
		if _, err := r.Status(ctx, "t-bad"); !errors.Is(err, rtapi.ErrNotFound) {
			t.Errorf("secret name %q: the refused task exists: %v", name, err)
		}
	}
}

func TestSecretsEnv(t *testing.T) {
	env, err := withSecretsEnv([]string{"A=1", "SHOAL_SECRETS_DIR=/x", "B=2"}, "/t", []rtapi.Secret{{Name: "s"}})
	if err != nil || strings.Join(env, " ") != "A=1 B=2 SHOAL_SECRETS_DIR=/t/secrets" {
		t.Errorf("withSecretsEnv = %q, %v", env, err)
	}
	if env, err := withSecretsEnv([]string{"A=1"}, "/t", nil); err != nil || len(env) != 1 {
		t.Errorf("withSecretsEnv without secrets = %q, %v; want env unchanged", env, err)
	}
}
