package p2p

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLibp2pHandlerFilters(t *testing.T) {
	var buf bytes.Buffer
	h := libp2pHandler{h: slog.NewTextHandler(&buf, nil), min: slog.LevelWarn}
	l := slog.New(h).With("logger", "swarm2")
	l.Info("dropped: below the floor")
	l.Warn("kept")
	l.With("system", "fx").Error("OnStart hook failed")
	got := strings.TrimSpace(buf.String())
	if strings.Count(got, "\n") != 0 || !strings.Contains(got, `msg=kept logger=swarm2`) {
		t.Fatalf("want only the swarm warning, got:\n%s", got)
	}
}
