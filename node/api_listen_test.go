package node

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenSocketModeStaleAndLive(t *testing.T) {
	path := filepath.Join(filepath.Dir(testSocketPath(t)), "sub", "api.sock")
	ln, err := listenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket %v mode %v; want a socket with mode 0660", err, fi.Mode())
	}
	if _, err := listenSocket(path); err == nil || !strings.Contains(err.Error(), "another agent is serving") {
		t.Fatalf("second listen on a live socket: %v", err)
	}
	// A crashed agent leaves its socket file behind: the next one takes it.
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	ln, err = listenSocket(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left after close: %v", err)
	}
	plain := filepath.Join(filepath.Dir(path), "file")
	os.WriteFile(plain, nil, 0o600)
	if _, err := listenSocket(plain); err == nil || err.Error() != "api socket: "+plain+" exists and is not a socket" {
		t.Fatalf("regular file: %v", err)
	}
}

func TestValidSocketPath(t *testing.T) {
	for p, want := range map[string]string{
		"":                             "",
		"/run/shoal/shoal.sock":        "",
		"run/shoal.sock":               `api socket: "run/shoal.sock" is not an absolute path`,
		"/" + strings.Repeat("x", 120): "is 121 bytes long; a unix socket path holds at most 107",
	} {
		err := validSocketPath(p)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("validSocketPath(%q) = %v; want %q", p, err, want)
		}
	}
}
