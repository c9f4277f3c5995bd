package node

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// fakePorts answers the gone prober's connections from a table.
type fakePorts struct {
	mu    sync.Mutex
	state map[string]error // by address; nil: the port answers
	dials map[string]int
}

func (f *fakePorts) set(addr string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[addr] = err
}

func (f *fakePorts) dial(_ context.Context, addr string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dials[addr]++
	return f.state[addr]
}

func (f *fakePorts) dialed(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials[addr]
}

// TestGoneProberConfirmsOnlyRefusals checks that a suspect whose port
// refuses throughout the confirmation time is found gone (and the signal
// fires), while one whose port answers again (a restarted agent) or only
// times out (a partition) is not; and that a member no longer suspect is
// no longer probed or found gone.
func TestGoneProberConfirmsOnlyRefusals(t *testing.T) {
	refused := &net.OpError{Op: "dial", Err: &net.OpError{Err: syscall.ECONNREFUSED}}
	timeout := context.DeadlineExceeded
	ports := &fakePorts{state: map[string]error{
		"dead:1": refused, "restarting:1": refused, "partitioned:1": timeout, "slow:1": nil,
	}, dials: map[string]int{}}
	changed := newSignal()
	p := newGoneProber(changed, slog.New(slog.DiscardHandler))
	p.dial, p.confirm = ports.dial, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer p.stop()

	fired := changed.Wait()
	start := time.Now()
	p.track(ctx, map[string]string{"dead": "dead:1", "restarting": "restarting:1", "partitioned": "partitioned:1", "slow": "slow:1"})
	// The restarted agent listens again before the confirmation ends.
	time.AfterFunc(50*time.Millisecond, func() { ports.set("restarting:1", nil) })
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("no member was found gone")
	}
	if d := time.Since(start); d < p.confirm {
		t.Fatalf("found gone after %v, before the confirmation time %v", d, p.confirm)
	}
	// Let the others be probed past the confirmation time too.
	deadline := time.Now().Add(5 * time.Second)
	for ports.dialed("restarting:1") < 4 || ports.dialed("partitioned:1") < 4 {
		if time.Now().After(deadline) {
			t.Fatal("the other suspects were not probed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := p.gone(); len(got) != 1 || !got["dead"] {
		t.Fatalf("gone = %v, want only dead", got)
	}

	// dead is alive again in gossip: no longer tracked, no longer gone.
	p.track(ctx, map[string]string{"partitioned": "partitioned:1"})
	if got := p.gone(); len(got) != 0 {
		t.Fatalf("gone = %v after the suspicion ended", got)
	}
	// Probes stopped (in flight ones end within one dial): over three
	// probe periods, neither is dialed again.
	time.Sleep(p.confirm / 2)
	dead, slow := ports.dialed("dead:1"), ports.dialed("slow:1")
	time.Sleep(3 * p.confirm / 2)
	if ports.dialed("dead:1") != dead || ports.dialed("slow:1") != slow {
		t.Fatalf("members no longer suspect are still probed: dead %d→%d, slow %d→%d", dead, ports.dialed("dead:1"), slow, ports.dialed("slow:1"))
	}
}

// TestLostConnsCandidates checks which members the leader probes: those
// whose connection closed within lostWindow and did not come back; older
// losses and removed nodes are forgotten.
func TestLostConnsCandidates(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	nodes := []*api.Node{{ID: "a", P2PAddr: "10.0.0.1:7946"}, {ID: "b", P2PAddr: "10.0.0.2:7946"}, {ID: "c", P2PAddr: "10.0.0.3:7946"}}
	var l lostConns
	l.mark("a", now.Add(-time.Second))
	l.mark("b", now.Add(-time.Second))            // connected again
	l.mark("c", now.Add(-lostWindow-time.Second)) // too long ago
	l.mark("removed", now)
	connected := func(id string) bool { return id == "b" }
	got := l.candidates(nodes, connected, now)
	if len(got) != 1 || got["a"] != "10.0.0.1:7946" {
		t.Fatalf("candidates = %v, want a only", got)
	}
	if len(l.at) != 2 { // a, and b until its window ends
		t.Fatalf("remembered %v", l.at)
	}
	l.reset()
	if got := l.candidates(nodes, connected, now); len(got) != 0 {
		t.Fatalf("after reset: %v", got)
	}
}

// TestGoneProberNeedsRefusalsThroughout checks that the confirmation time
// restarts when the port answers in between: a member whose agent crashes
// again right after a restart is gone only once its port has refused for
// the whole confirmation time since the last answer.
func TestGoneProberNeedsRefusalsThroughout(t *testing.T) {
	refused := &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}
	// Answers per connection attempt: refused, answered, then refused.
	var mu sync.Mutex
	calls := 0
	dial := func(context.Context, string) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 2 {
			return nil
		}
		return refused
	}
	changed := newSignal()
	p := newGoneProber(changed, slog.New(slog.DiscardHandler))
	p.dial, p.confirm = dial, 20*time.Millisecond
	// The clock moves half the confirmation time per attempt, as the
	// prober's pace does: attempt k happens at (k-1) × confirm/2.
	base := time.Now()
	p.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return base.Add(time.Duration(calls-1) * p.confirm / 2)
	}
	fired := changed.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer p.stop()
	p.track(ctx, map[string]string{"flapping": "flapping:1"})
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("never found gone")
	}
	mu.Lock()
	defer mu.Unlock()
	// Refused at attempts 3, 4 and 5 (times confirm/2 × 2, 3, 4): a full
	// confirmation time only at the fifth.
	if calls != 5 {
		t.Fatalf("found gone after %d attempts, want 5 (refused throughout the confirmation time after the port answered)", calls)
	}
}
