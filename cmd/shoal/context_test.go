package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestContexts: a context is checked before it is saved (mode 0600),
// becomes current with `use`, and then picks the agent for every command;
// --addr and $SHOAL_ADDR still win; `use default` goes back to the socket.
func TestContexts(t *testing.T) {
	f := newFakeAPI(t)
	cfg := filepath.Join(t.TempDir(), "shoal", "config.toml")
	vars := map[string]string{"SHOAL_CONFIG": cfg}
	run := func(args ...string) (string, string, int) {
		env := &cliEnv{getenv: func(k string) string { return vars[k] }, now: time.Now, poll: time.Millisecond}
		var out, errOut strings.Builder
		code := runWith(args, env, &out, &errOut)
		return out.String(), errOut.String(), code
	}
	if _, errOut, code := run("context", "create", "lab", "--addr", "unix://"+t.TempDir()+"/nothing.sock"); code != 1 || !strings.Contains(errOut, "context lab not saved: cannot reach shoal agent") {
		t.Fatalf("unreachable context: %d %q", code, errOut)
	}
	if _, err := os.Stat(cfg); !os.IsNotExist(err) {
		t.Fatalf("a failed create wrote %s", cfg)
	}
	out, errOut, code := run("context", "create", "lab", "--addr", f.addr)
	if code != 0 || !strings.Contains(out, "as local (role admin)") {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("context file: %v %v", err, fi)
	}
	if _, errOut, code := run("context", "use", "nope"); code != 1 || !strings.Contains(errOut, `context "nope" is not in`) {
		t.Fatalf("use unknown: %d %q", code, errOut)
	}
	if _, _, code := run("context", "use", "lab"); code != 0 {
		t.Fatal("use lab")
	}
	if out, _, code := run("token", "show", "-q"); code != 0 || out != "SHOAL-1-abc-def\n" {
		t.Fatalf("a command through the current context: %d %q", code, out)
	}
	if out, _, _ := run("context", "ls"); !strings.Contains(out, "* lab") || !strings.Contains(out, "  default") {
		t.Fatalf("ls: %q", out)
	}
	vars["SHOAL_ADDR"] = "unix://" + t.TempDir() + "/other.sock"
	if _, errOut, code := run("token", "show"); code != 1 || !strings.Contains(errOut, "other.sock") {
		t.Fatalf("$SHOAL_ADDR did not win over the context: %d %q", code, errOut)
	}
	delete(vars, "SHOAL_ADDR")
	vars["SHOAL_CONTEXT"] = "gone"
	if _, errOut, code := run("token", "show"); code != 1 || !strings.Contains(errOut, `context "gone" is not in`) {
		t.Fatalf("unknown $SHOAL_CONTEXT: %d %q", code, errOut)
	}
	delete(vars, "SHOAL_CONTEXT")
	if _, _, code := run("context", "use", "default"); code != 0 {
		t.Fatal("use default")
	}
	if out, _, _ := run("context", "ls"); !strings.Contains(out, "* default") {
		t.Fatalf("ls after use default: %q", out)
	}
	if _, _, code := run("context", "rm", "lab"); code != 0 {
		t.Fatal("rm")
	}
}
