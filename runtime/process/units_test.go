package process

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestRotator(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	w, err := openRotator(path, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"aaaa\n", "bbbb\n", "cccc\ndddd\n", "0123456789abcdef", "\n"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	// Lines stay whole, the 16-byte line is split at 10, the oldest file
	// ("aaaa\nbbbb\n") is dropped.
	for i, want := range []string{"abcdef\n", "0123456789", "cccc\ndddd\n"} {
		b, err := os.ReadFile(rotatedName(path, i))
		if err != nil || string(b) != want {
			t.Errorf("file %d = %q, %v; want %q", i, b, err, want)
		}
	}
	if _, err := os.Stat(rotatedName(path, 3)); err == nil {
		t.Error("file .3 exists with MaxLogFiles 3")
	}
	if _, err := openRotator(path, 0, 3); err == nil {
		t.Error("zero size accepted")
	}
}

func TestRotatorSingleFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	w, err := openRotator(path, 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("one\ntwo\nsix\n"))
	w.Close()
	if b, _ := os.ReadFile(path); string(b) != "six\n" {
		t.Fatalf("file = %q, want the last line only", b)
	}
}

// TestStopSignalStored checks that the stop signal recorded for a shim is
// one api.ParseSignal reads back as the same signal.
func TestStopSignalStored(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL, 34, 64} {
		got, err := api.ParseSignal(signalName(sig))
		if err != nil || syscall.Signal(got) != sig {
			t.Errorf("signalName(%d) = %q, read back as %v, %v", sig, signalName(sig), got, err)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	tail := " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 20 21"
	st, err := parseProcStat([]byte("42 (we ird) name)) S" + tail))
	if err != nil || st.State != 'S' || st.Start != 777 {
		t.Fatalf("parse = %+v, %v", st, err)
	}
	for _, bad := range []string{"", "42 (x", "42 (x) S 1 2", "42 (x) SS" + tail, "42 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -5 20"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parse(%q) accepted", bad)
		}
	}
	self, ok := readProcStat(os.Getpid())
	if !ok || self.Start == 0 || !processAlive(os.Getpid(), self.Start) || processAlive(os.Getpid(), self.Start+1) {
		t.Fatalf("own stat = %+v, %v; PID-reuse check broken", self, ok)
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 99 1000 10"))
	f.Add([]byte("2 ()) R )"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseProcStat(b)
		if err == nil && bytes.LastIndexByte(b, ')') < 0 {
			t.Fatalf("parsed %q without a ')': %+v", b, st)
		}
	})
}

func TestResolveWorkDir(t *testing.T) {
	ok := map[string]string{"": "/w", "a/b": "/w/a/b", "/app": "/w/app", "./x/": "/w/x", "a//b/.": "/w/a/b"}
	for in, want := range ok {
		if got, err := resolveWorkDir("/w", in); err != nil || got != want {
			t.Errorf("resolveWorkDir(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../x", "a/../../b", "/..", "a\x00"} {
		if _, err := resolveWorkDir("/w", in); err == nil {
			t.Errorf("resolveWorkDir(%q) accepted", in)
		}
	}
}

func FuzzResolveWorkDir(f *testing.F) {
	for _, s := range []string{"", "a", "../a", "/x/y", "a/./b", "..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := resolveWorkDir("/w", s)
		if err == nil && got != "/w" && !strings.HasPrefix(got, "/w/") {
			t.Fatalf("resolveWorkDir(%q) = %q escapes the work root", s, got)
		}
	})
}

func TestValidTaskID(t *testing.T) {
	for _, id := range []string{"a", "task-1.2_x", strings.Repeat("a", 128)} {
		if err := validTaskID(id); err != nil {
			t.Errorf("validTaskID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "a b", strings.Repeat("a", 129), "é"} {
		if err := validTaskID(id); err == nil {
			t.Errorf("validTaskID(%q) accepted", id)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil || !strings.Contains(err.Error(), "Root") {
		t.Errorf("empty root: %v", err)
	}
	if _, err := New(Config{Root: t.TempDir(), MaxLogBytes: -1}); err == nil {
		t.Error("negative MaxLogBytes accepted")
	}
	r, err := New(Config{Root: t.TempDir()})
	if err != nil || r.maxLogBytes != DefaultMaxLogBytes || r.maxLogFiles != DefaultMaxLogFiles || len(r.shim) != 2 || r.Name() != "process" {
		t.Errorf("defaults: %+v, %v", r, err)
	}
}
