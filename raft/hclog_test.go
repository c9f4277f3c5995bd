package raft

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// records decodes the JSON lines a test logger wrote.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestHCLoggerLevels(t *testing.T) {
	for _, tc := range []struct {
		in   hclog.Level
		want slog.Level
	}{
		{hclog.Trace, slog.LevelDebug - 4},
		{hclog.Debug, slog.LevelDebug},
		{hclog.Info, slog.LevelInfo},
		{hclog.NoLevel, slog.LevelInfo},
		{hclog.Warn, slog.LevelWarn},
		{hclog.Error, slog.LevelError},
	} {
		if got := SlogLevel(tc.in); got != tc.want {
			t.Errorf("SlogLevel(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}

	var buf bytes.Buffer
	l := NewHCLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), hclog.Warn)
	l.Info("dropped below the adapter's level")
	l.Warn("kept", "term", 3)
	l.Error("also kept")
	if l.IsInfo() || !l.IsWarn() {
		t.Errorf("IsInfo=%v IsWarn=%v at warn", l.IsInfo(), l.IsWarn())
	}
	l.SetLevel(hclog.Trace)
	if l.GetLevel() != hclog.Trace || l.IsTrace() || !l.IsDebug() {
		t.Errorf("trace: level %v IsTrace=%v (the handler stops at debug) IsDebug=%v", l.GetLevel(), l.IsTrace(), l.IsDebug())
	}
	l.Debug("debug now")
	got := records(t, &buf)
	if len(got) != 3 {
		t.Fatalf("want 3 records, got %v", got)
	}
	for i, want := range []struct{ level, msg string }{{"WARN", "kept"}, {"ERROR", "also kept"}, {"DEBUG", "debug now"}} {
		if got[i]["level"] != want.level || got[i]["msg"] != want.msg {
			t.Errorf("record %d = %v, want %v", i, got[i], want)
		}
	}
	if got[0]["term"] != float64(3) {
		t.Errorf("args are not attributes: %v", got[0])
	}
}

func TestHCLoggerWithAndNamed(t *testing.T) {
	var buf bytes.Buffer
	root := NewHCLogger(slog.New(slog.NewJSONHandler(&buf, nil)), hclog.Info)
	l := root.Named("raft").With("node", "n1").Named("snapshots")
	if l.Name() != "raft.snapshots" {
		t.Errorf("name %q", l.Name())
	}
	if args := l.ImpliedArgs(); len(args) != 2 || args[0] != "node" {
		t.Errorf("implied args %v", args)
	}
	l.Info("saved", "index", 7)
	root.Info("plain")
	l.ResetNamed("other").Info("renamed")
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Warn}).Print("from a std logger")
	got := records(t, &buf)
	if len(got) != 4 {
		t.Fatalf("want 4 records, got %v", got)
	}
	if got[0]["logger"] != "raft.snapshots" || got[0]["node"] != "n1" || got[0]["index"] != float64(7) {
		t.Errorf("named record %v", got[0])
	}
	if _, ok := got[1]["logger"]; ok {
		t.Errorf("the root logger has a name: %v", got[1])
	}
	if got[2]["logger"] != "other" || got[2]["node"] != "n1" {
		t.Errorf("reset record %v", got[2])
	}
	if got[3]["level"] != "WARN" || got[3]["msg"] != "from a std logger" {
		t.Errorf("std logger record %v", got[3])
	}
}
