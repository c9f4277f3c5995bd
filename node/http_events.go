package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// eventWriteTimeout bounds one write to an event stream: a client that
// stops reading is disconnected instead of holding a handler forever.
const eventWriteTimeout = 30 * time.Second

// routeEvents adds GET /v1/events, the stream of committed changes this
// node's replica applied (state.FSM's event ring), one JSON event a line.
func (s *apiServer) routeEvents() {
	s.handle("GET /v1/events", api.ACLReadOnly, s.streams.limited(s.streamEvents))
}

func (s *apiServer) streamEvents(w http.ResponseWriter, r *http.Request) {
	serveEvents(w, r, s.done, s.backend.events())
}

// serveEvents streams fsm's events (a state.FSM's) to one client until it
// hangs up, done ends (the agent stops) or the subscription fails; a
// failure is the last line, {"error": ...}.
func serveEvents(w http.ResponseWriter, r *http.Request, done context.Context, fsm eventSource) {
	filter, err := api.ParseEventFilter(r.URL.Query())
	if err != nil {
		writeError(w, api.Errorf(api.CodeInvalid, "%v", err))
		return
	}
	sub, err := fsm.SubscribeEvents(filter.Since)
	if err != nil {
		writeError(w, eventError(err))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(done, cancel)
	defer stop()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for {
		evs, err := sub.Next(ctx)
		buf.Reset()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			end := api.EventStreamEnd{Error: err.Error()}
			var slow *state.ErrTooSlow
			if errors.As(err, &slow) {
				end.Resume = slow.Resume
			}
			enc.Encode(end)
		default:
			for i := range evs {
				if filter.Match(&evs[i]) {
					enc.Encode(&evs[i])
				}
			}
		}
		if buf.Len() > 0 {
			rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
			if _, werr := w.Write(buf.Bytes()); werr != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// eventError maps a subscription error to an API error: a resume point
// older than the window is 410 Gone and names the oldest one kept.
func eventError(err error) error {
	var gone *state.ErrEventsGone
	if errors.As(err, &gone) {
		return api.Errorf(api.CodeGone, "%v", gone)
	}
	return err
}
