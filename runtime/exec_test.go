package runtime

import (
	"bytes"
	"testing"
)

// TestLimitedBuffer keeps the first Limit bytes (ExecOutputLimit by
// default) and reports every write as complete, so a command writing
// more is never blocked or failed.
func TestLimitedBuffer(t *testing.T) {
	b := LimitedBuffer{Limit: 5}
	for _, w := range []string{"abc", "defg", "hij"} {
		if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	if got := string(b.Bytes()); got != "abcde" {
		t.Errorf("kept %q, want %q", got, "abcde")
	}
	var d LimitedBuffer
	d.Write(bytes.Repeat([]byte("x"), 10000))
	if n := len(d.Bytes()); n != ExecOutputLimit {
		t.Errorf("default limit kept %d bytes, want %d", n, ExecOutputLimit)
	}
}
