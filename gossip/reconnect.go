package gossip

import (
	"math/rand/v2"
	"time"
)

// reconnectTimeout is how long a failed member's address is retried.
const reconnectTimeout = 24 * time.Hour

// renameTimeout is how long a conflicting new address (see NotifyConflict)
// is retried; longer conflicts are two live nodes sharing a name.
const renameTimeout = time.Minute

// reconnectEvery is the retry period as a multiple of ProbeInterval
// (2 s with LANTimings) in clusters of up to reconnectsPerRound ×
// reconnectEvery members; larger ones retry less often (see
// reconnectPeriod).
const reconnectEvery = 4

// reconnectsPerRound bounds the retries of the whole cluster per
// ProbeInterval: each is a full state exchange (push-pull) with a member
// that answers, so retries every 2 s on every node would cost N² once
// members flap. One success heals a partition, so few suffice.
const reconnectsPerRound = 25

// reconnectPeriod is how often a node of an n-member cluster retries.
func reconnectPeriod(probe time.Duration, n int) time.Duration {
	return probe * time.Duration(max(reconnectEvery, (n+reconnectsPerRound-1)/reconnectsPerRound))
}

// reconnectLoop heals partitions. memberlist stops talking to a member it
// declared dead, so after a partition ends both sides would stay split;
// like serf, each period this node retries a join with one random failed
// (not left) member until it is alive again or reconnectTimeout passes.
// New addresses of restarted members (see NotifyConflict) are retried too.
func (g *Gossip) reconnectLoop(probe time.Duration) {
	t := time.NewTimer(reconnectPeriod(probe, 0))
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		t.Reset(reconnectPeriod(probe, g.ml.NumMembers()))
		addr, ok := g.pickFailed()
		if !ok {
			continue
		}
		select {
		case <-g.stop:
			return
		default:
		}
		if _, err := g.ml.Join([]string{addr}); err != nil {
			g.logger.Debug("gossip: reconnect failed", "addr", addr, "err", oneLine(err))
		}
	}
}

// pickFailed returns the address of a random failed or moved member,
// forgetting entries older than their timeout.
func (g *Gossip) pickFailed() (string, bool) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	var addrs []string
	for name, f := range g.failed {
		if now.Sub(f.since) > reconnectTimeout {
			delete(g.failed, name)
			continue
		}
		addrs = append(addrs, f.addr)
	}
	for name, f := range g.renamed {
		if now.Sub(f.since) > renameTimeout {
			delete(g.renamed, name)
			continue
		}
		addrs = append(addrs, f.addr)
	}
	if len(addrs) == 0 {
		return "", false
	}
	return addrs[rand.IntN(len(addrs))], true
}
