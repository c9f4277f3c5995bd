package node

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestParseLogLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLogLevel(in); err != nil || got != want {
			t.Errorf("ParseLogLevel(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "INFO", "trace", "warning"} {
		if _, err := ParseLogLevel(bad); err == nil || !strings.Contains(err.Error(), "log level: ") {
			t.Errorf("ParseLogLevel(%q) = %v, want an error naming the log level", bad, err)
		}
	}
}

func TestNewLogHandlerFormats(t *testing.T) {
	var text bytes.Buffer
	h, err := NewLogHandler(&text, "warn", "text")
	if err != nil {
		t.Fatal(err)
	}
	slog.New(h).Info("dropped")
	slog.New(h).Warn("write rejected", "code", "conflict")
	line := strings.TrimSpace(text.String())
	if strings.Contains(line, "dropped") || !strings.Contains(line, `level=WARN msg="write rejected" code=conflict`) {
		t.Fatalf("text output %q", line)
	}
	stamp, _, _ := strings.Cut(strings.TrimPrefix(line, "time="), " ")
	if _, err := time.Parse(LogTimeFormat, stamp); err != nil || len(stamp) < len("2006-01-02T15:04:05.000000") {
		t.Errorf("text time %q: %v (want microseconds)", stamp, err)
	}

	var js bytes.Buffer
	if h, err = NewLogHandler(&js, "debug", "json"); err != nil {
		t.Fatal(err)
	}
	slog.New(h).Debug("task running", "task", "t1", "pid", 42)
	var rec map[string]any
	if err := json.Unmarshal(js.Bytes(), &rec); err != nil {
		t.Fatalf("json output %q: %v", js.String(), err)
	}
	if rec["level"] != "DEBUG" || rec["msg"] != "task running" || rec["task"] != "t1" || rec["time"] == nil {
		t.Errorf("json record %v", rec)
	}

	if _, err := NewLogHandler(&js, "info", "xml"); err == nil || err.Error() != `log format: "xml" is not text or json` {
		t.Errorf("bad format: %v", err)
	}
	if _, err := NewLogHandler(&js, "loud", "text"); err == nil || !strings.HasPrefix(err.Error(), `log level: "loud"`) {
		t.Errorf("bad level: %v", err)
	}
}

// TestLibraryLevels: hashicorp/raft logs warnings and errors, everything
// from debug on at --log-level debug.
func TestLibraryLevels(t *testing.T) {
	for agent, want := range map[slog.Level]hclog.Level{
		slog.LevelDebug: hclog.Debug, slog.LevelInfo: hclog.Warn, slog.LevelWarn: hclog.Warn, slog.LevelError: hclog.Error,
	} {
		if got := hclogLevel(agent); got != want {
			t.Errorf("hclogLevel(%v) = %v, want %v", agent, got, want)
		}
	}
}
