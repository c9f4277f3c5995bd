package dns

import (
	"context"
	"time"

	"github.com/shoal-project/shoal/internal/ctxutil"
)

// Follow keeps the server's records current until ctx ends: it calls load
// for the records and a channel that closes once they are stale, serves
// the records, waits for the channel, and loads again — no sooner than
// minInterval after the previous load, so a burst of changes costs one
// rebuild. A minInterval well under a second keeps answers within a
// second of the state.
func (s *Server) Follow(ctx context.Context, load func() (Records, <-chan struct{}), minInterval time.Duration) {
	for {
		last := time.Now()
		r, stale := load()
		s.SetRecords(r)
		select {
		case <-ctx.Done():
			return
		case <-stale:
		}
		if wait := minInterval - time.Since(last); wait > 0 {
			if ctxutil.Sleep(ctx, wait) != nil {
				return
			}
		}
	}
}
