package gossip

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestStdLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := stdLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Printf("[DEBUG] memberlist: Stream connection from=1.2.3.4")
	l.Printf("[WARN] memberlist: Was able to connect to n2 over TCP")
	l.Printf("[ERR] memberlist: Failed to send ping")
	l.Printf("no tag")
	got := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=WARN msg="Was able to connect to n2 over TCP" logger=memberlist`,
		`level=ERROR msg="Failed to send ping" logger=memberlist`,
		`level=INFO msg="no tag"`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(got), buf.String())
	}
	for i := range want {
		if !strings.HasSuffix(got[i], want[i]) {
			t.Errorf("line %d = %q, want it to end with %q", i, got[i], want[i])
		}
	}
}
