package p2p

import (
	"context"
	"log/slog"

	"github.com/libp2p/go-libp2p/gologshim"
)

// RouteLibp2pLogs sends go-libp2p's logs to h, at min or above, and drops
// those of its fx dependency-injection framework: a failed host start is
// reported once, by NewHost's error. libp2p's loggers are process-wide,
// so call it once, before the first host starts.
func RouteLibp2pLogs(h slog.Handler, min slog.Level) {
	gologshim.SetDefaultHandler(libp2pHandler{h: h, min: min})
}

// libp2pHandler filters go-libp2p's records before they reach h.
type libp2pHandler struct {
	h   slog.Handler
	min slog.Level
}

func (l libp2pHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= l.min && l.h.Enabled(ctx, level)
}

func (l libp2pHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < l.min {
		return nil
	}
	return l.h.Handle(ctx, r)
}

// WithAttrs drops everything once a logger is fx's (system=fx).
func (l libp2pHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if a.Key == "system" && a.Value.String() == "fx" {
			return slog.DiscardHandler
		}
	}
	return libp2pHandler{h: l.h.WithAttrs(attrs), min: l.min}
}

func (l libp2pHandler) WithGroup(name string) slog.Handler {
	return libp2pHandler{h: l.h.WithGroup(name), min: l.min}
}
