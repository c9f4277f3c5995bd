package raft

import (
	"context"
	"io"
	"log"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// NewHCLogger is an hclog.Logger that writes to l, so hashicorp/raft logs
// through the same slog handler as the rest of the agent. Records below
// level are dropped (on top of l's own level); the logger's name is the
// "logger" attribute, and With's pairs become attributes.
func NewHCLogger(l *slog.Logger, level hclog.Level) hclog.Logger {
	h := &hcLogger{base: l, l: l}
	h.level.Store(int32(level))
	return h
}

// hcLogger implements hclog.Logger over a *slog.Logger.
type hcLogger struct {
	base    *slog.Logger // l without the name attribute
	l       *slog.Logger
	name    string
	implied []any
	level   atomic.Int32 // an hclog.Level
}

// SlogLevel maps an hclog level to slog's: trace sits below debug.
func SlogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error, hclog.Off:
		return slog.LevelError
	default: // Info, NoLevel, Default
		return slog.LevelInfo
	}
}

func (h *hcLogger) enabled(l hclog.Level) bool {
	min := hclog.Level(h.level.Load())
	if min == hclog.Off || (l != hclog.NoLevel && l < min) {
		return false
	}
	return h.l.Enabled(context.Background(), SlogLevel(l))
}

// Log emits one record at level.
func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	if h.enabled(level) {
		h.l.Log(context.Background(), SlogLevel(level), msg, args...)
	}
}

func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hcLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hcLogger) IsTrace() bool { return h.enabled(hclog.Trace) }
func (h *hcLogger) IsDebug() bool { return h.enabled(hclog.Debug) }
func (h *hcLogger) IsInfo() bool  { return h.enabled(hclog.Info) }
func (h *hcLogger) IsWarn() bool  { return h.enabled(hclog.Warn) }
func (h *hcLogger) IsError() bool { return h.enabled(hclog.Error) }

// ImpliedArgs are the pairs With added.
func (h *hcLogger) ImpliedArgs() []any { return h.implied }

// With returns a logger that adds args to every record.
func (h *hcLogger) With(args ...any) hclog.Logger {
	c := h.clone()
	c.implied = append(append([]any{}, h.implied...), args...)
	c.base = h.base.With(args...)
	c.l = h.l.With(args...)
	return c
}

// Name is the logger's dotted name.
func (h *hcLogger) Name() string { return h.name }

// Named appends name to the logger's name ("raft.snapshots").
func (h *hcLogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

// ResetNamed replaces the logger's name.
func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	c := h.clone()
	c.name = name
	c.l = h.base
	if name != "" {
		c.l = h.base.With("logger", name)
	}
	return c
}

// SetLevel changes this logger's minimum level.
func (h *hcLogger) SetLevel(level hclog.Level) { h.level.Store(int32(level)) }

// GetLevel is this logger's minimum level.
func (h *hcLogger) GetLevel() hclog.Level { return hclog.Level(h.level.Load()) }

// StandardLogger is a *log.Logger whose lines become records at the
// options' ForceLevel (info if unset).
func (h *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	level := hclog.Info
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = opts.ForceLevel
	}
	return slog.NewLogLogger(h.l.Handler(), SlogLevel(level))
}

// StandardWriter is the writer behind StandardLogger.
func (h *hcLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(opts).Writer()
}

func (h *hcLogger) clone() *hcLogger {
	c := &hcLogger{base: h.base, l: h.l, name: h.name, implied: h.implied}
	c.level.Store(h.level.Load())
	return c
}

var _ hclog.Logger = (*hcLogger)(nil)
