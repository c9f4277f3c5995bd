package node

import (
	"net"
	"net/http"
	"sync"

	"github.com/shoal-project/shoal/api"
)

// Long-lived answers (log follows, the event stream) hold a goroutine,
// buffers and, for logs, a stream to the task's node for as long as the
// client stays. streamLimits bounds how many one source address and all
// sources may hold at once.
const (
	maxStreamsPerSource = 32
	maxStreams          = 256
)

// streamLimits counts the open streams by source address.
type streamLimits struct {
	mu       sync.Mutex
	bySource map[string]int
	total    int
	perSrc   int
	max      int
}

func newStreamLimits(perSource, total int) *streamLimits {
	return &streamLimits{bySource: map[string]int{}, perSrc: perSource, max: total}
}

// acquire takes a slot for src, or returns why it cannot.
func (l *streamLimits) acquire(src string) *api.Error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.bySource[src] >= l.perSrc:
		return api.Errorf(api.CodeRateLimited, "too many open log and event streams from %s (%d); close some", src, l.perSrc)
	case l.total >= l.max:
		return api.Errorf(api.CodeRateLimited, "this agent serves its limit of %d log and event streams; try again later", l.max)
	}
	l.bySource[src]++
	l.total++
	return nil
}

func (l *streamLimits) release(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.bySource[src]--; l.bySource[src] <= 0 {
		delete(l.bySource, src)
	}
}

// limited wraps a streaming handler in l. Streams are counted per
// caller (a token, or the local socket) and source address.
func (l *streamLimits) limited(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		src, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			src = r.RemoteAddr
		}
		if c, ok := callerOf(r.Context()); ok {
			src = c.Name + "@" + src
		}
		if err := l.acquire(src); err != nil {
			writeError(w, err)
			return
		}
		defer l.release(src)
		h(w, r)
	}
}
