package dns

import (
	"context"
	"time"

	"github.com/shoal-project/shoal/internal/ctxutil"
)

// rebuildShare bounds the time Follow spends loading records: loads are
// at least rebuildShare × the last load's duration apart, so rebuilding
// uses at most a tenth of a core however large the state. (With 100,000
// tasks a load takes 10–30 ms, and every commit changes the state: every
// 200 ms it was 5–15% of a core on every node.)
const rebuildShare = 10

// Follow keeps the server's records current until ctx ends: it calls load
// for the records and a channel that closes once they are stale, serves
// the records, waits for the channel, and loads again — no sooner than
// minInterval after the previous load, nor than rebuildShare times that
// load's duration, so a burst of changes costs one rebuild. A minInterval
// well under a second keeps answers within a second of the state while a
// load takes under 100 ms.
func (s *Server) Follow(ctx context.Context, load func() (Records, <-chan struct{}), minInterval time.Duration) {
	for {
		last := time.Now()
		r, stale := load()
		s.SetRecords(r)
		gap := max(minInterval, rebuildShare*time.Since(last))
		select {
		case <-ctx.Done():
			return
		case <-stale:
		}
		if wait := gap - time.Since(last); wait > 0 {
			if ctxutil.Sleep(ctx, wait) != nil {
				return
			}
		}
	}
}
