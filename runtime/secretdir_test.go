package runtime

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			out = append(out, l)
		}
	}
	return out
}

func TestMountSecretDirReplacesAndUnmounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "secrets")
	t.Cleanup(func() { UnmountSecretDir(dir) })
	if err := MountSecretDir(dir, []Secret{{Name: "a", Data: []byte("old")}, {Name: "b"}}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := MountSecretDir(dir, []Secret{{Name: "a", Data: []byte("new")}}, 0, 0); err != nil {
		t.Fatalf("second mount: %v", err)
	}
	if m := mountsAt(t, dir); len(m) != 1 || !strings.Contains(m[0], " - tmpfs ") {
		t.Fatalf("mounts on %s: %q, want one tmpfs", dir, m)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a")); err != nil || string(b) != "new" {
		t.Fatalf("a = %q, %v; want the second mount's data", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "b")); !os.IsNotExist(err) {
		t.Fatalf("b of the first mount is still there: %v", err)
	}
	if err := UnmountSecretDir(dir); err != nil {
		t.Fatal(err)
	}
	if m := mountsAt(t, dir); len(m) != 0 {
		t.Fatalf("still mounted: %q", m)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir left: %v", err)
	}
	if err := UnmountSecretDir(dir); err != nil {
		t.Fatalf("unmounting a missing dir: %v", err)
	}
	if err := MountSecretDir(dir, []Secret{{Name: "../a"}}, 0, 0); err == nil {
		t.Fatal("an unsafe name was accepted")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a refused mount left dir: %v", err)
	}
}

// TestMountSecretDirNeedsRoot runs MountSecretDir as nobody (in a child
// of the test binary) and checks the error says what to do.
func TestMountSecretDirNeedsRoot(t *testing.T) {
	if dir := os.Getenv("SHOAL_TEST_SECRET_DIR"); dir != "" {
		err := MountSecretDir(dir, []Secret{{Name: "a", Data: []byte("x")}}, 0, 0)
		fmt.Print(err)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as nobody")
	}
	// A dir nobody can reach, with a copy of the test binary.
	parent, err := os.MkdirTemp("", "shoal-secrets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	exe, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.WriteFile(filepath.Join(parent, "test"), exe, 0o755)
	}
	if err == nil {
		err = os.Chmod(parent, 0o777)
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "secrets")
	cmd := exec.Command(filepath.Join(parent, "test"), "-test.run=^TestMountSecretDirNeedsRoot$")
	cmd.Env = append(os.Environ(), "SHOAL_TEST_SECRET_DIR="+dir, "GORACE=atexit_sleep_ms=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "secrets need a tmpfs mount (run the agent as root): operation not permitted") {
		t.Fatalf("as nobody, MountSecretDir said %q", out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a failed mount left its dir: %v", err)
	}
}
