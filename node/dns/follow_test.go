package dns

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestFollow: the server serves what load returns, and loads again when
// the previous load's channel closes.
func TestFollow(t *testing.T) {
	s := startServer(t, nil)
	changed := make(chan struct{})
	var loads atomic.Int32
	load := func() (Records, <-chan struct{}) {
		if loads.Add(1) == 1 {
			return webRecords(), changed
		}
		return NewSnapshot([]Service{{Name: "web"}}, []Task{{Service: "web", Label: "9", IP: "10.42.9.2"}}), make(chan struct{})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Follow(ctx, load, 50*time.Millisecond); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor := func(want []string) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			got := addrs(ask(t, s, "udp", "tasks.web.shoal.", dns.TypeA).Answer)
			if slices.Equal(got, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after 1s: %v, want %v", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor([]string{"10.42.1.2", "10.42.2.2", "10.42.3.2"})
	close(changed)
	waitFor([]string{"10.42.9.2"})
	if n := loads.Load(); n != 2 {
		t.Errorf("%d loads, want 2", n)
	}
}

// TestFollowPacesCostlyLoads: a load that takes 30 ms, whose records are
// stale at once, runs at most once per 300 ms (rebuildShare × its
// duration), not once per minInterval.
func TestFollowPacesCostlyLoads(t *testing.T) {
	s := startServer(t, nil)
	var loads atomic.Int32
	stale := make(chan struct{})
	close(stale)
	load := func() (Records, <-chan struct{}) {
		loads.Add(1)
		time.Sleep(30 * time.Millisecond) // the load's own cost
		return webRecords(), stale
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	s.Follow(ctx, load, 10*time.Millisecond)
	// Unpaced: 1.5 s / (30 + 10 ms) ≈ 37 loads; paced: 1.5 s / 300 ms ≈ 5.
	if n := loads.Load(); n < 2 || n > 6 {
		t.Fatalf("%d loads in 1.5 s, want 2–6", n)
	}
}
