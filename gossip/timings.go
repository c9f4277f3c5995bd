package gossip

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// Timings are the memberlist failure-detection and dissemination settings.
type Timings struct {
	ProbeInterval           time.Duration // how often each node probes one other node
	ProbeTimeout            time.Duration // direct ping ack wait before indirect probes
	SuspicionMult           int           // suspicion timeout = SuspicionMult × max(1, log10 N) × ProbeInterval
	SuspicionMaxTimeoutMult int           // upper bound on the suspicion timeout, as a multiple of the above
	GossipInterval          time.Duration // how often queued broadcasts are gossiped
	PushPullInterval        time.Duration // full state sync period; also how long dead members are remembered
	DeadNodeReclaimTime     time.Duration // after this, a dead name may come back at a new address
	RetransmitMult          int           // each broadcast is sent RetransmitMult × ceil(log10(N+1)) times
	GossipNodes             int           // members each gossip round sends to (0: memberlist's 3)
}

// LANTimings returns Shoal's defaults for a LAN of 3-10 nodes.
//
// Detection bound for a crashed node, N ≤ 10 (log10 N ≤ 1):
//   - first probe of the dead node: within ProbeInterval on average
//     (N-1 probers each cycle through the members), worst case
//     (N-1) × ProbeInterval;
//   - that probe fails after one ProbeInterval (500 ms: direct ping,
//     ProbeTimeout 250 ms, then indirect and TCP probes) and the node
//     becomes suspect;
//   - suspicion timeout: SuspicionMult × ProbeInterval = 1 s (with
//     SuspicionMult 2 memberlist expects no confirmations, so the
//     minimum applies; the maximum, 3 s, never does);
//   - the dead message then spreads in a few GossipIntervals (~100-300 ms).
//
// So all others see the crash about 2-2.5 s after it happens; the bound
// is ~2.7 s, plus up to (N-2) × ProbeInterval in the unlucky case where
// every prober reaches the dead node last in its round. memberlist's LAN
// preset needs ~5.7 s. Measured on loopback (BenchmarkCrashDetection,
// 15 runs each): 3 nodes mean 2.07 s, max 2.40 s; 10 nodes mean 2.04 s,
// max 2.50 s.
func LANTimings() Timings {
	return Timings{
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            250 * time.Millisecond,
		SuspicionMult:           2,
		SuspicionMaxTimeoutMult: 3,
		GossipInterval:          100 * time.Millisecond,
		PushPullInterval:        15 * time.Second,
		DeadNodeReclaimTime:     time.Second,
		RetransmitMult:          4,
	}
}

// validate reports the first setting that memberlist cannot work with.
func (t Timings) validate() error {
	switch {
	case t.ProbeInterval <= 0:
		return fmt.Errorf("gossip: ProbeInterval %v must be positive", t.ProbeInterval)
	case t.ProbeTimeout <= 0 || t.ProbeTimeout >= t.ProbeInterval:
		return fmt.Errorf("gossip: ProbeTimeout %v must be positive and below ProbeInterval %v", t.ProbeTimeout, t.ProbeInterval)
	case t.SuspicionMult < 1:
		return fmt.Errorf("gossip: SuspicionMult %d must be at least 1", t.SuspicionMult)
	case t.SuspicionMaxTimeoutMult < 1:
		return fmt.Errorf("gossip: SuspicionMaxTimeoutMult %d must be at least 1", t.SuspicionMaxTimeoutMult)
	case t.GossipInterval <= 0:
		return fmt.Errorf("gossip: GossipInterval %v must be positive", t.GossipInterval)
	case t.PushPullInterval <= 0:
		return fmt.Errorf("gossip: PushPullInterval %v must be positive", t.PushPullInterval)
	case t.DeadNodeReclaimTime <= 0:
		return fmt.Errorf("gossip: DeadNodeReclaimTime %v must be positive, or a restarted node is refused until reaped", t.DeadNodeReclaimTime)
	case t.GossipNodes < 0:
		return fmt.Errorf("gossip: GossipNodes %d must not be negative", t.GossipNodes)
	case t.RetransmitMult < 1:
		return fmt.Errorf("gossip: RetransmitMult %d must be at least 1", t.RetransmitMult)
	}
	return nil
}

// apply copies the timings into a memberlist config.
func (t Timings) apply(c *memberlist.Config) {
	c.ProbeInterval = t.ProbeInterval
	c.ProbeTimeout = t.ProbeTimeout
	c.SuspicionMult = t.SuspicionMult
	c.SuspicionMaxTimeoutMult = t.SuspicionMaxTimeoutMult
	c.GossipInterval = t.GossipInterval
	c.PushPullInterval = t.PushPullInterval
	c.GossipToTheDeadTime = t.PushPullInterval
	c.DeadNodeReclaimTime = t.DeadNodeReclaimTime
	c.RetransmitMult = t.RetransmitMult
	if t.GossipNodes > 0 {
		c.GossipNodes = t.GossipNodes
	}
}
