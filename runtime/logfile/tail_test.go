package logfile

import (
	"strings"
	"testing"
)

func TestTailOffset(t *testing.T) {
	cases := []struct {
		data      string
		n         int
		wantOff   int64
		wantFound int
	}{
		{"", 3, 0, 0},
		{"a\nb\nc\n", 0, 6, 0},
		{"a\nb\nc\n", 1, 4, 1},
		{"a\nb\nc\n", 2, 2, 2},
		{"a\nb\nc\n", 3, 0, 3},
		{"a\nb\nc\n", 9, 0, 3},
		{"a\nb\nc", 1, 4, 1},
		{"a\nb\nc", 2, 2, 2},
		{"a\nb\nc", 5, 0, 3},
		{"\n\n", 1, 1, 1},
		{strings.Repeat("x", 70000) + "\ny\n", 1, 70001, 1},
		{strings.Repeat("x\n", 40000), 39999, 2, 39999},
	}
	for _, c := range cases {
		off, found, err := tailOffset(strings.NewReader(c.data), int64(len(c.data)), c.n)
		if err != nil || off != c.wantOff || found != c.wantFound {
			t.Errorf("tailOffset(%.20q, %d) = %d, %d, %v; want %d, %d", c.data, c.n, off, found, err, c.wantOff, c.wantFound)
		}
	}
}

func FuzzTailOffset(f *testing.F) {
	f.Add("a\nb\nc\n", 2)
	f.Add("", 0)
	f.Add("\n\n\n", 1)
	f.Add("no newline", 3)
	f.Add("0", 0)
	f.Fuzz(func(t *testing.T, data string, n int) {
		if n < 0 || n > 1000 {
			return
		}
		off, found, err := tailOffset(strings.NewReader(data), int64(len(data)), n)
		if err != nil || off < 0 || off > int64(len(data)) {
			t.Fatalf("tailOffset(%q, %d) = %d, %v", data, n, off, err)
		}
		got := data[off:]
		if n == 0 {
			if got != "" || found != 0 {
				t.Fatalf("tailOffset(%q, 0) = %d, %d; want the end", data, off, found)
			}
			return
		}
		if off > 0 && data[off-1] != '\n' {
			t.Fatalf("tail %q of %q does not start a line", got, data)
		}
		lines := strings.Count(strings.TrimSuffix(got, "\n"), "\n") + 1
		if got == "" {
			lines = 0
		}
		if lines > n || (off > 0 && lines != n) || (off == 0 && lines != found) {
			t.Fatalf("tailOffset(%q, %d) = %d (%q, %d lines), found %d", data, n, off, got, lines, found)
		}
	})
}
