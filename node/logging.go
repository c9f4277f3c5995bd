package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/hashicorp/go-hclog"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/p2p"
)

// The --log-format values.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// ParseLogLevel reads a --log-level value: debug, info, warn or error.
func ParseLogLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level: %q is not debug, info, warn or error", s)
}

// checkLogFormat accepts a --log-format value: text or json.
func checkLogFormat(s string) error {
	if s != LogFormatText && s != LogFormatJSON {
		return fmt.Errorf("log format: %q is not text or json", s)
	}
	return nil
}

// NewLogHandler is the agent's slog handler on w for a --log-level and a
// --log-format. The text format is slog's key=value lines, stamped to the
// microsecond for a terminal; json is one object per line with time,
// level and msg.
func NewLogHandler(w io.Writer, level, format string) (slog.Handler, error) {
	lvl, err := ParseLogLevel(level)
	if err != nil {
		return nil, err
	}
	if err := checkLogFormat(format); err != nil {
		return nil, err
	}
	if format == LogFormatJSON {
		return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}), nil
	}
	return slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: microTime}), nil
}

// LogTimeFormat is how the text format writes a record's time.
const LogTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

func microTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
		a.Value = slog.StringValue(a.Value.Time().Format(LogTimeFormat))
	}
	return a
}

// libraryLevel is the least level of the records hashicorp/raft may log:
// its info lines repeat what the agent logs itself, so above debug it is
// kept to warnings and errors.
func libraryLevel(agent slog.Level) slog.Level {
	if agent <= slog.LevelDebug {
		return agent
	}
	return max(agent, slog.LevelWarn)
}

// hclogLevel is libraryLevel for hclog.
func hclogLevel(agent slog.Level) hclog.Level {
	switch l := libraryLevel(agent); {
	case l <= slog.LevelDebug:
		return hclog.Debug
	case l <= slog.LevelInfo:
		return hclog.Info
	case l <= slog.LevelWarn:
		return hclog.Warn
	default:
		return hclog.Error
	}
}

// RouteLibraryLogs sends go-libp2p's logs to h: only errors, or
// everything from debug on at --log-level debug, and never those of its fx
// framework. A failed start is then the agent's one error line (libp2p
// warns of a port in use before the agent reports it). libp2p's loggers
// are process-wide: call it once, before New.
func RouteLibraryLogs(h slog.Handler, level string) {
	l, err := ParseLogLevel(level)
	if err != nil {
		l = slog.LevelInfo
	}
	if l > slog.LevelDebug {
		l = max(l, slog.LevelError)
	}
	p2p.RouteLibp2pLogs(h, l)
}

// libraryLevel is the hclog level hashicorp/raft logs at on this agent.
func (a *Agent) libraryLevel() hclog.Level {
	l, _ := ParseLogLevel(a.cfg.LogLevel)
	return hclogLevel(l)
}

// logMemberEvent records a gossip membership change: joins, leaves and
// failures at info, metadata updates at debug.
func (a *Agent) logMemberEvent(ev gossip.Event) {
	level := slog.LevelInfo
	if ev.Type == gossip.EventUpdate {
		level = slog.LevelDebug
	}
	a.log.Log(context.Background(), level, "member "+ev.Type.String(),
		"node", ev.Member.Name, "node_id", api.ShortID(ev.Member.Meta.NodeID), "addr", ev.Member.Addr)
}

// logRejected records a write this node refused or the leader rejected,
// with its error code and message, at warn.
func (a *Agent) logRejected(cmd api.Command, err error) {
	a.log.Warn("write rejected", "command", cmd.Type, "request", cmd.RequestID, "code", api.CodeOf(err), "error", errorMessage(err))
}

// errorMessage is an error's message without its code.
func errorMessage(err error) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}
