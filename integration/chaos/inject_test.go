package chaos

import (
	"fmt"
	"slices"
	"time"

	"github.com/shoal-project/shoal/integration/harness"
)

// injector carries out the rounds of a schedule and measures recovery.
type injector struct {
	c     *cluster
	start time.Time
	logf  func(format string, args ...any)
	disk  *tmpfsDisk // nil when the full-disk fault cannot run
	net   partitioner

	injected     map[faultKind]int
	skipped      map[faultKind]int
	recoveries   []time.Duration // heal → healthy, per round that recovered within its gap
	notRecovered []int           // rounds not healthy by the end of their gap
	lastHeal     time.Time
	onLastHeal   func()   // called right after the last round heals
	troubles     []string // fault API errors, the full disk ending an agent
	crashes      []string // agents that exited on their own
}

func newInjector(c *cluster, start time.Time, disk *tmpfsDisk, net partitioner, logf func(string, ...any)) *injector {
	return &injector{c: c, start: start, disk: disk, net: net, logf: logf,
		injected: map[faultKind]int{}, skipped: map[faultKind]int{}}
}

// runAll executes every round at its scheduled time (or right after the
// previous one, if that ran late).
func (inj *injector) runAll(s schedule) {
	for i, r := range s.Rounds {
		if wait := time.Until(inj.start.Add(r.Start)); wait > 0 {
			time.Sleep(wait) // the schedule's own timing
		}
		inj.runRound(r, i == len(s.Rounds)-1)
	}
	if len(s.Rounds) == 0 && inj.onLastHeal != nil {
		time.Sleep(time.Until(inj.start.Add(s.Duration)))
		inj.onLastHeal()
	}
}

func (inj *injector) runRound(r round, last bool) {
	inj.crashes = append(inj.crashes, inj.c.restartCrashed(inj.logf)...)
	leader := ""
	if r.Kind == killLeader || r.Kind == pauseLeader || r.Kind == isolateLeader || r.Kind == partLeaderMinor {
		if l := inj.c.waitLeader(5 * time.Second); l != nil {
			leader = l.Name
		} else {
			leader = r.Pick[0]
			inj.logf("round %d: no leader within 5s; %s stands in for it", r.N, leader)
		}
	}
	other := func(skip ...string) []string {
		var out []string
		for _, n := range r.Pick {
			if !slices.Contains(skip, n) {
				out = append(out, n)
			}
		}
		return out
	}
	heal := func() {}
	switch r.Kind {
	case killLeader, killNode:
		target := r.Pick[0]
		if r.Kind == killLeader {
			target = leader
		}
		a := inj.c.byName(target)
		inj.logf("round %d: %s: kill -9 %s (agent and workloads), restart in %.1fs", r.N, r.Kind, target, r.Hold.Seconds())
		a.Die()
		heal = func() { a.Start() }
	case pauseLeader, pauseNode:
		target := r.Pick[0]
		if r.Kind == pauseLeader {
			target = leader
		}
		a := inj.c.byName(target)
		inj.logf("round %d: %s: SIGSTOP %s for %.1fs", r.N, r.Kind, target, r.Hold.Seconds())
		if err := a.pause(); err != nil {
			inj.trouble("round %d: pause %s: %v", r.N, target, err)
		}
		heal = a.resume
	case partMinority:
		heal = inj.partition(r, r.Pick[:2], r.Pick[2:], nil)
	case partLeaderMinor:
		minority := []string{leader, other(leader)[0]}
		heal = inj.partition(r, minority, other(minority...), nil)
	case isolateLeader:
		heal = inj.partition(r, []string{leader}, other(leader), nil)
	case partBridge:
		heal = inj.partition(r, r.Pick[:2], r.Pick[3:], r.Pick[2:3])
	case oneWay:
		src := r.Pick[0]
		inj.logf("round %d: %s: %s drops its outbound %s to %s for %.1fs", r.N, r.Kind, src, inj.net.outbound(), joinNames(other(src)), r.Hold.Seconds())
		if err := inj.net.block(src, other(src), true); err != nil {
			inj.trouble("round %d: one-way cut on %s: %v", r.N, src, err)
		}
		heal = inj.healAll
	case diskFull:
		if inj.disk == nil {
			inj.logf("round %d: %s: skipped (needs root for a tmpfs data dir)", r.N, r.Kind)
			inj.skipped[r.Kind]++
			time.Sleep(r.Hold + r.Gap)
			if last && inj.onLastHeal != nil {
				inj.onLastHeal()
			}
			return
		}
		heal = inj.fillDisk(r)
	}
	inj.injected[r.Kind]++
	time.Sleep(r.Hold) // the fault's duration, from the schedule
	heal()
	inj.lastHeal = time.Now()
	inj.logf("round %d: healed", r.N)
	if last && inj.onLastHeal != nil {
		inj.onLastHeal()
	}
	inj.awaitRecovery(r)
}

// partition cuts group a from group b both ways (bridge nodes keep
// talking to both) and returns the heal.
func (inj *injector) partition(r round, a, b, bridge []string) func() {
	desc := fmt.Sprintf("%s | %s", joinNames(a), joinNames(b))
	if len(bridge) > 0 {
		desc += " (bridge " + joinNames(bridge) + " talks to both)"
	}
	inj.logf("round %d: %s: %s for %.1fs", r.N, r.Kind, desc, r.Hold.Seconds())
	cut := func(from, to []string) {
		for _, n := range from {
			if err := inj.net.block(n, to, false); err != nil {
				inj.trouble("round %d: block %v on %s: %v", r.N, to, n, err)
			}
		}
	}
	cut(a, b)
	cut(b, a)
	return inj.healAll
}

// healAll removes every cut on every node.
func (inj *injector) healAll() {
	for _, a := range inj.c.agents {
		if err := inj.net.heal(a.Name); err != nil {
			inj.trouble("heal on %s: %v", a.Name, err)
		}
	}
}

// partitioner cuts nodes off from each other: through the agents' fault
// API (faultAPI, rootless) or with drop rules in their network namespaces
// (nftPartitioner, root).
type partitioner interface {
	// block makes node drop its traffic with peers, both ways, or only
	// what it sends them if outboundOnly.
	block(node string, peers []string, outboundOnly bool) error
	// heal removes every cut of node; it is a no-op if there is none.
	heal(node string) error
	// outbound names what a one-way cut drops, for the log.
	outbound() string
}

// faultAPI partitions through POST /v1/debug/faults (agents started with
// --fault-injection): the libp2p gater and the gossip transport drop the
// named peers.
type faultAPI struct{ c *cluster }

func (f faultAPI) block(node string, peers []string, outboundOnly bool) error {
	return f.c.byName(node).fault(faultRequest{Block: peers, OutboundOnly: outboundOnly})
}

// heal skips an agent that is down: its cuts died with it.
func (f faultAPI) heal(node string) error {
	a := f.c.byName(node)
	if !a.Running() {
		return nil
	}
	return a.fault(faultRequest{Heal: true})
}

func (faultAPI) outbound() string { return "gossip" }

// fillDisk fills the tmpfs data dir and returns the heal, which frees it
// and restarts the agent if the full disk ended it.
func (inj *injector) fillDisk(r round) func() {
	a := inj.c.byName(diskNode)
	n, err := inj.disk.fill()
	inj.logf("round %d: %s: filled %s's data dir with %d MiB (%v) for %.1fs", r.N, r.Kind, diskNode, n>>20, err, r.Hold.Seconds())
	return func() {
		if err := inj.disk.free(); err != nil {
			inj.trouble("round %d: freeing the disk: %v", r.N, err)
		}
		if !a.Running() {
			inj.trouble("round %d: %s exited on a full disk; restarted. Last output:\n%s", r.N, diskNode, a.tail(8))
			a.Start()
		}
	}
}

// awaitRecovery waits out the round's gap, timing how long the cluster
// takes to be healthy again.
func (inj *injector) awaitRecovery(r round) {
	took, err := harness.Poll(r.Gap, "healthy", inj.c.healthy)
	if err != nil {
		inj.notRecovered = append(inj.notRecovered, r.N)
		inj.logf("round %d: not healthy within the %.1fs gap: %v", r.N, r.Gap.Seconds(), err)
		return
	}
	inj.recoveries = append(inj.recoveries, took)
	inj.logf("round %d: healthy again %.2fs after the heal", r.N, took.Seconds())
	if rest := r.Gap - took; rest > 0 {
		time.Sleep(rest) // the rest of the schedule's quiet gap
	}
}

func (inj *injector) trouble(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	inj.troubles = append(inj.troubles, msg)
	inj.logf("TROUBLE: %s", msg)
}
