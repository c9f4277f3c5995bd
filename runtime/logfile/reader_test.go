package logfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// appendFile appends data to path, creating it if needed.
func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
}

// rotate does what a numbered rotator does: path.i becomes path.i+1 and
// path becomes path.1; the next write creates a new path.
func rotate(t *testing.T, path string, kept int) {
	t.Helper()
	os.Remove(RotatedName(path, kept))
	for i := kept - 1; i >= 0; i-- {
		if err := os.Rename(RotatedName(path, i), RotatedName(path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
}

// lines is "<prefix>-<from>\n" .. "<prefix>-<to>\n".
func lines(prefix string, from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%s-%d\n", prefix, i)
	}
	return b.String()
}

// collector reads r in the background and keeps what it read.
type collector struct {
	mu   sync.Mutex
	got  strings.Builder
	done chan error
}

func collect(r io.Reader) *collector {
	c := &collector{done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 7) // small, so reads stop inside lines and files
		for {
			n, err := r.Read(buf)
			c.mu.Lock()
			c.got.Write(buf[:n])
			c.mu.Unlock()
			if err != nil {
				c.done <- err
				return
			}
		}
	}()
	return c
}

func (c *collector) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got.String()
}

// waitText waits until the collector has read exactly want.
func (c *collector) waitText(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.text() != want {
		if time.Now().After(deadline) {
			t.Fatalf("read %q, want %q", c.text(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// end waits for the reader to stop and returns its final error.
func (c *collector) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("reader did not stop; read %q", c.text())
		return nil
	}
}

// stillReading fails if the reader has stopped.
func (c *collector) stillReading(t *testing.T) {
	t.Helper()
	select {
	case err := <-c.done:
		t.Fatalf("reader stopped with %v, read %q", err, c.text())
	default:
	}
}

func open(t *testing.T, ctx context.Context, path string, o Options) *Reader {
	t.Helper()
	r, err := Open(ctx, path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestTailAcrossRotatedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	// out.log.3 (oldest) .. out.log, 4 lines each; out.log.2 is empty.
	appendFile(t, RotatedName(path, 3), lines("l", 1, 4))
	appendFile(t, RotatedName(path, 2), "")
	appendFile(t, RotatedName(path, 1), lines("l", 5, 8))
	appendFile(t, path, lines("l", 9, 12))
	// Not rotated files of this log: never read.
	for _, name := range []string{path + ".0", path + ".01", path + ".+4", path + ".x", path + "x.5"} {
		appendFile(t, name, "stray\n")
	}
	all := strings.SplitAfter(lines("l", 1, 12), "\n")
	all = all[:len(all)-1]
	for _, n := range []int{-1, 0, 1, 3, 4, 5, 8, 9, 12, 100} {
		r := open(t, context.Background(), path, Options{Tail: n, Rotated: Numbered(path)})
		b, err := io.ReadAll(r)
		want := strings.Join(all, "")
		if n >= 0 {
			want = strings.Join(all[max(len(all)-n, 0):], "")
		}
		if err != nil || string(b) != want {
			t.Errorf("tail %d = %q, %v; want %q", n, b, err, want)
		}
	}
}

func TestNumbered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a[1]*.log") // pattern characters are literal
	for _, i := range []int{10, 2, 1} {
		appendFile(t, RotatedName(path, i), "x")
	}
	appendFile(t, path+".01", "x")
	got := Numbered(path)()
	want := []string{path + ".10", path + ".2", path + ".1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Numbered = %q, want %q (oldest first)", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	if _, err := Open(context.Background(), path, Options{Tail: -2}); err == nil || !strings.Contains(err.Error(), "tail -2") {
		t.Errorf("tail -2: %v, want an error naming the tail", err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	// A directory opens; reading it fails with an error, not EOF.
	r := open(t, context.Background(), path, Options{Tail: -1})
	if _, err := io.ReadAll(r); err == nil {
		t.Errorf("reading a directory as a log succeeded")
	}
}

func TestMissingLogIsEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	r := open(t, context.Background(), path, Options{Tail: 10})
	if b, err := io.ReadAll(r); err != nil || len(b) != 0 {
		t.Fatalf("missing log = %q, %v; want empty", b, err)
	}
}

func TestFollowAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	var exited atomic.Bool
	// The live file does not exist yet: the reader opens it when it does.
	r := open(t, context.Background(), path, Options{Tail: -1, Follow: true, Rotated: Numbered(path), Exited: exited.Load})
	c := collect(r)
	appendFile(t, path, lines("a", 1, 3))
	c.waitText(t, lines("a", 1, 3))

	// Rotated twice between two looks: read in order.
	appendFile(t, path, "a-4\n")
	rotate(t, path, 5)
	appendFile(t, path, lines("b", 1, 2))
	rotate(t, path, 5)
	appendFile(t, path, lines("c", 1, 2))
	want := lines("a", 1, 4) + lines("b", 1, 2) + lines("c", 1, 2)
	c.waitText(t, want)
	c.stillReading(t)

	exited.Store(true)
	if err := c.end(t); !errors.Is(err, io.EOF) {
		t.Fatalf("follow ended with %v, want io.EOF", err)
	}
	if got := c.text(); got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

func TestSwitchFileFinishesRotatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	appendFile(t, path, "a\n")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := open(t, ctx, path, Options{Tail: -1, Follow: true, Rotated: Numbered(path)})
	buf := make([]byte, 100)
	if n, err := r.Read(buf); err != nil || string(buf[:n]) != "a\n" {
		t.Fatalf("first read = %q, %v", buf[:n], err)
	}
	// Between the reader's EOF on the live file and its look for a
	// rotation, the writer adds a line and rotates.
	appendFile(t, path, "b\n")
	rotate(t, path, 3)
	appendFile(t, path, "c\n")
	r.mu.Lock()
	moved := r.switchFile()
	r.mu.Unlock()
	if !moved {
		t.Fatal("rotation not noticed")
	}
	var got string
	for got != "b\nc\n" {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("read %q, then %v", got, err)
		}
		got += string(buf[:n])
		if len(got) > 4 {
			t.Fatalf("read %q, want \"b\\nc\\n\"", got)
		}
	}
}

func TestFollowReplacedFile(t *testing.T) {
	// A log kept as one file: rotating deletes it and starts a new one.
	path := filepath.Join(t.TempDir(), "out.log")
	appendFile(t, path, "a-1\n")
	var exited atomic.Bool
	r := open(t, context.Background(), path, Options{Tail: -1, Follow: true, Exited: exited.Load})
	c := collect(r)
	c.waitText(t, "a-1\n")
	appendFile(t, path, "a-2\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "b-1\n")
	c.waitText(t, "a-1\na-2\nb-1\n")
	exited.Store(true)
	if err := c.end(t); !errors.Is(err, io.EOF) {
		t.Fatalf("follow ended with %v, want io.EOF", err)
	}
}

func TestExitDrainsThenEOF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	appendFile(t, path, "old\n")
	var exited atomic.Bool
	r := open(t, context.Background(), path, Options{Tail: 0, Follow: true, Exited: exited.Load})
	c := collect(r)
	appendFile(t, path, "one\n")
	c.waitText(t, "one\n")
	// The last output and the exit come together: the output is still sent.
	appendFile(t, path, lines("last", 1, 50))
	exited.Store(true)
	if err := c.end(t); !errors.Is(err, io.EOF) {
		t.Fatalf("follow ended with %v, want io.EOF", err)
	}
	if got, want := c.text(), "one\n"+lines("last", 1, 50); got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("read after the end = %d, %v; want io.EOF", n, err)
	}
}

func TestDoneChannelEndsFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	done := make(chan struct{})
	r := open(t, context.Background(), path, Options{Tail: -1, Follow: true, Done: done})
	c := collect(r)
	appendFile(t, path, "hello\n")
	c.waitText(t, "hello\n")
	c.stillReading(t)
	appendFile(t, path, "bye\n")
	close(done)
	if err := c.end(t); !errors.Is(err, io.EOF) || c.text() != "hello\nbye\n" {
		t.Fatalf("follow ended with %v after %q; want io.EOF after both lines", err, c.text())
	}
}

func TestFollowStopsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	appendFile(t, path, "hello\n")
	ctx, cancel := context.WithCancel(context.Background())
	r := open(t, ctx, path, Options{Tail: -1, Follow: true})
	c := collect(r)
	c.waitText(t, "hello\n")
	cancel()
	if err := c.end(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("follow ended with %v, want context.Canceled", err)
	}
}

func TestCloseUnblocksFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	appendFile(t, path, lines("r", 1, 3))
	rotate(t, path, 3)
	appendFile(t, path, "hello\n")
	r := open(t, context.Background(), path, Options{Tail: -1, Follow: true, Rotated: Numbered(path)})
	c := collect(r)
	c.waitText(t, lines("r", 1, 3)+"hello\n")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.end(t); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after close = %v, want os.ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read after close = %v, want os.ErrClosed", err)
	}
}

func TestCloseBeforeReadingReleasesFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.log")
	appendFile(t, RotatedName(path, 1), "a\n")
	appendFile(t, path, "b\n")
	before := openFDs(t)
	r, err := Open(context.Background(), path, Options{Tail: -1, Rotated: Numbered(path)})
	if err != nil {
		t.Fatal(err)
	}
	if got := openFDs(t); got != before+2 {
		t.Fatalf("%d descriptors open for two log files, want 2", got-before)
	}
	r.Close()
	if got := openFDs(t); got != before {
		t.Fatalf("%d descriptors left open after Close", got-before)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}
