package gossip

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// stdLogger is a *log.Logger for memberlist that turns each of its lines
// ("[WARN] memberlist: ...") into a record of l at the line's level, with
// the level tag and the "memberlist: " prefix taken off.
func stdLogger(l *slog.Logger) *log.Logger {
	return log.New(levelWriter{l}, "", 0)
}

// levelWriter writes one log line per Write as a slog record.
type levelWriter struct{ l *slog.Logger }

var levelTags = []struct {
	tag   string
	level slog.Level
}{
	{"[TRACE]", slog.LevelDebug - 4},
	{"[DEBUG]", slog.LevelDebug},
	{"[INFO]", slog.LevelInfo},
	{"[WARN]", slog.LevelWarn},
	{"[ERR]", slog.LevelError},
	{"[ERROR]", slog.LevelError},
}

func (w levelWriter) Write(b []byte) (int, error) {
	line := bytes.TrimSpace(b)
	level := slog.LevelInfo
	for _, t := range levelTags {
		if rest, ok := bytes.CutPrefix(line, []byte(t.tag)); ok {
			level, line = t.level, bytes.TrimSpace(rest)
			break
		}
	}
	if !w.l.Enabled(context.Background(), level) {
		return len(b), nil
	}
	logger := w.l
	for _, p := range []string{"memberlist: ", "gossip: "} {
		if rest, ok := bytes.CutPrefix(line, []byte(p)); ok {
			line = rest
			logger = logger.With("logger", p[:len(p)-2])
			break
		}
	}
	logger.Log(context.Background(), level, string(line))
	return len(b), nil
}
