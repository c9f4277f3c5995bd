package chaos

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// faultKind names one kind of fault.
type faultKind string

// The fault kinds the schedule draws from.
const (
	killLeader      faultKind = "kill-leader"      // kill -9 the leader (agent + workloads), restart later
	killNode        faultKind = "kill-node"        // kill -9 a random node, restart later
	pauseLeader     faultKind = "pause-leader"     // SIGSTOP the leader's agent, SIGCONT later
	pauseNode       faultKind = "pause-node"       // SIGSTOP a random agent
	partMinority    faultKind = "partition-3|2"    // two random nodes cut off from the other three
	partLeaderMinor faultKind = "partition-leader" // the leader and one more cut off from the other three
	isolateLeader   faultKind = "isolate-leader"   // the leader cut off from everyone
	partBridge      faultKind = "partition-bridge" // A|B cut, a bridge node talks to both
	oneWay          faultKind = "one-way-gossip"   // a node's outbound gossip dropped
	diskFull        faultKind = "disk-full"        // the tmpfs data dir of n5 filled up
)

// allKinds lists the kinds with their weights in the schedule.
var allKinds = []struct {
	kind   faultKind
	weight int
}{
	{killLeader, 2}, {killNode, 2}, {pauseLeader, 1}, {pauseNode, 1}, {partMinority, 1},
	{partLeaderMinor, 1}, {isolateLeader, 1}, {partBridge, 1}, {oneWay, 1}, {diskFull, 1},
}

// diskNode is the node whose data dir is a small tmpfs (when root).
const diskNode = "n5"

// warmup is how long the workload runs before the first fault.
const warmup = 2 * time.Second

// round is one fault of the schedule: it starts at Start (from the start
// of the run), holds for Hold, is healed, and is followed by a quiet Gap.
type round struct {
	N     int
	Start time.Duration
	Kind  faultKind
	// Pick is a seeded permutation of the node names; the fault takes its
	// targets from it (skipping the leader where the kind says so), so the
	// targets follow from the seed and the leader at that moment.
	Pick []string
	Hold time.Duration
	Gap  time.Duration
}

// schedule is the whole fault plan of a run.
type schedule struct {
	Seed     int64
	Duration time.Duration
	Rounds   []round
}

// makeSchedule draws the fault plan for seed over duration for nodes.
func makeSchedule(seed int64, duration time.Duration, nodes []string) schedule {
	rng := rand.New(rand.NewSource(seed))
	s := schedule{Seed: seed, Duration: duration}
	total := 0
	for _, k := range allKinds {
		total += k.weight
	}
	at := warmup
	for {
		kind := pickKind(rng, total)
		hold := holdFor(rng, kind)
		gap := time.Duration(3000+rng.Intn(3001)) * time.Millisecond
		pick := append([]string(nil), nodes...)
		rng.Shuffle(len(pick), func(i, j int) { pick[i], pick[j] = pick[j], pick[i] })
		if at+hold > duration {
			break
		}
		s.Rounds = append(s.Rounds, round{N: len(s.Rounds) + 1, Start: at, Kind: kind, Pick: pick, Hold: hold, Gap: gap})
		at += hold + gap
	}
	return s
}

func pickKind(rng *rand.Rand, total int) faultKind {
	n := rng.Intn(total)
	for _, k := range allKinds {
		if n < k.weight {
			return k.kind
		}
		n -= k.weight
	}
	return allKinds[0].kind
}

// holdFor draws how long a fault lasts: pauses 1-3s (past the 300ms
// election timeout), kills 1-4s down, cuts 3-8s, a full disk 2-5s.
func holdFor(rng *rand.Rand, k faultKind) time.Duration {
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+rng.Intn(hi-lo+1)) * time.Millisecond }
	switch k {
	case pauseLeader, pauseNode:
		return ms(1000, 3000)
	case killLeader, killNode:
		return ms(1000, 4000)
	case diskFull:
		return ms(2000, 5000)
	case oneWay:
		return ms(3000, 6000)
	default:
		return ms(3000, 8000)
	}
}

// String prints the plan, one round a line.
func (s schedule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "schedule seed=%d duration=%s rounds=%d\n", s.Seed, s.Duration, len(s.Rounds))
	for _, r := range s.Rounds {
		fmt.Fprintf(&b, "  #%-2d at %6.1fs  %-17s hold %4.1fs  gap %3.1fs  pick %s\n", r.N, r.Start.Seconds(), r.Kind,
			r.Hold.Seconds(), r.Gap.Seconds(), joinNames(r.Pick))
	}
	return b.String()
}

// TestScheduleIsDeterministic: a seed always gives the same plan, other
// seeds give other plans, rounds fit the duration without overlapping,
// and every kind shows up across a few seeds.
func TestScheduleIsDeterministic(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	a, b := makeSchedule(42, time.Minute, nodes), makeSchedule(42, time.Minute, nodes)
	if a.String() != b.String() {
		t.Fatalf("same seed, different schedules:\n%s\n%s", a, b)
	}
	if c := makeSchedule(43, time.Minute, nodes); c.String() == a.String() {
		t.Fatalf("seeds 42 and 43 gave the same schedule:\n%s", a)
	}
	seen := map[faultKind]bool{}
	for seed := int64(1); seed <= 20; seed++ {
		s := makeSchedule(seed, time.Minute, nodes)
		if len(s.Rounds) < 4 {
			t.Fatalf("seed %d: only %d rounds in a minute", seed, len(s.Rounds))
		}
		end := time.Duration(0)
		for _, r := range s.Rounds {
			seen[r.Kind] = true
			if r.Start < end || r.Start+r.Hold > s.Duration || len(r.Pick) != len(nodes) {
				t.Fatalf("seed %d: bad round %+v (previous ended %s)", seed, r, end)
			}
			if (r.Kind == pauseLeader || r.Kind == pauseNode) && (r.Hold < time.Second || r.Hold > 3*time.Second) {
				t.Fatalf("seed %d: pause of %s", seed, r.Hold)
			}
			end = r.Start + r.Hold + r.Gap
		}
	}
	for _, k := range allKinds {
		if !seen[k.kind] {
			t.Errorf("kind %s never drawn in 20 seeds", k.kind)
		}
	}
}
