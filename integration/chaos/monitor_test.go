package chaos

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/shoal-project/shoal/api"
)

// leaderWatch polls every node's /v1/cluster and records which leader each
// reports for each term.
type leaderWatch struct {
	c     *cluster
	start time.Time

	mu      sync.Mutex
	samples int
	// byTerm: term → leader → how it was seen.
	byTerm map[uint64]map[string]*leaderSeen
	// last self-claimed leader and when.
	lastSelf   string
	lastSelfAt time.Time
}

// leaderSeen is how one (term, leader) pair was reported.
type leaderSeen struct {
	reporters map[string]int // reporting node → count
	self      bool           // the leader itself reported it
	first     time.Duration
}

func newLeaderWatch(c *cluster, start time.Time) *leaderWatch {
	return &leaderWatch{c: c, start: start, byTerm: map[uint64]map[string]*leaderSeen{}}
}

// run polls until ctx ends.
func (lw *leaderWatch) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, a := range lw.c.agents {
		wg.Add(1)
		go func(a *agent) {
			defer wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if !a.usable() {
					continue
				}
				if st, err := a.status(500 * time.Millisecond); err == nil {
					lw.record(a.Name, st)
				}
			}
		}(a)
	}
	wg.Wait()
}

func (lw *leaderWatch) record(reporter string, st api.ClusterStatus) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.samples++
	if st.Leader == "" {
		return
	}
	m := lw.byTerm[st.Term]
	if m == nil {
		m = map[string]*leaderSeen{}
		lw.byTerm[st.Term] = m
	}
	s := m[st.Leader]
	if s == nil {
		s = &leaderSeen{reporters: map[string]int{}, first: time.Since(lw.start)}
		m[st.Leader] = s
	}
	s.reporters[reporter]++
	if reporter == st.Leader {
		s.self = true
		lw.lastSelf, lw.lastSelfAt = st.Leader, time.Now()
	}
}

// leader is the most recent self-claimed leader, if seen within maxAge.
func (lw *leaderWatch) leader(maxAge time.Duration) string {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if time.Since(lw.lastSelfAt) > maxAge {
		return ""
	}
	return lw.lastSelf
}

// splitBrain lists the terms for which two different leaders were
// reported; strong ones were claimed by both leaders themselves.
func (lw *leaderWatch) splitBrain() (strong, weak []string) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	terms := make([]uint64, 0, len(lw.byTerm))
	for t := range lw.byTerm {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool { return terms[i] < terms[j] })
	for _, term := range terms {
		m := lw.byTerm[term]
		if len(m) < 2 {
			continue
		}
		selfClaims := 0
		desc := fmt.Sprintf("term %d:", term)
		for _, l := range keys(m) {
			s := m[l]
			if s.self {
				selfClaims++
			}
			desc += fmt.Sprintf(" %s (self=%v, first %.1fs, by %v)", l, s.self, s.first.Seconds(), s.reporters)
		}
		if selfClaims >= 2 {
			strong = append(strong, desc)
		} else {
			weak = append(weak, desc)
		}
	}
	return strong, weak
}

// terms is how many terms had a known leader, and how many samples were taken.
func (lw *leaderWatch) stats() (terms, samples int) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return len(lw.byTerm), lw.samples
}

// slotWatch samples the leader's view of the workload services' tasks and
// measures how long any slot has two tasks that are meant to run and run.
type slotWatch struct {
	c  *cluster
	lw *leaderWatch

	mu      sync.Mutex
	samples int
	open    map[string]time.Time // "service-id/slot" → first seen doubled
	closed  []time.Duration
	worst   string
}

func newSlotWatch(c *cluster, lw *leaderWatch) *slotWatch {
	return &slotWatch{c: c, lw: lw, open: map[string]time.Time{}}
}

func (sw *slotWatch) run(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			sw.closeAll()
			return
		case <-tick.C:
		}
		a := sw.c.byName(sw.lw.leader(time.Second))
		if a == nil || !a.usable() {
			continue
		}
		doubled := map[string]bool{}
		complete := true
		for _, k := range kvKeys {
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			var ts []api.TaskInfo
			err := a.get(qctx, "/v1/services/"+url.PathEscape(k)+"/tasks", &ts)
			cancel()
			if err != nil {
				if api.CodeOf(err) != api.CodeNotFound {
					complete = false
				}
				continue
			}
			for key, n := range runningPerSlot(ts) {
				if n > 1 {
					doubled[k+"/"+key] = true
				}
			}
		}
		sw.observe(doubled, complete)
	}
}

// runningPerSlot counts, per "service-id/slot", the tasks both desired and
// observed running, but for a task a live replacement in its slot is
// moving (api.Task.Replaces: a rebalance or drain runs both on purpose
// until the replacement is ready).
func runningPerSlot(ts []api.TaskInfo) map[string]int {
	moving := map[string]bool{}
	for _, t := range ts {
		if t.Replaces != "" && t.DesiredState == api.TaskRunning && !t.State.Terminal() {
			moving[t.Replaces] = true
		}
	}
	m := map[string]int{}
	for _, t := range ts {
		if t.Slot > 0 && t.State == api.TaskRunning && t.DesiredState == api.TaskRunning && !moving[t.ID] {
			m[fmt.Sprintf("%s/%d", api.ShortID(t.ServiceID), t.Slot)]++
		}
	}
	return m
}

func (sw *slotWatch) observe(doubled map[string]bool, complete bool) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.samples++
	now := time.Now()
	for k := range doubled {
		if _, ok := sw.open[k]; !ok {
			sw.open[k] = now
		}
	}
	if !complete {
		return // a failed query says nothing about the slots it missed
	}
	for k, since := range sw.open {
		if !doubled[k] {
			sw.closeLocked(k, now.Sub(since))
		}
	}
}

func (sw *slotWatch) closeLocked(k string, d time.Duration) {
	delete(sw.open, k)
	sw.closed = append(sw.closed, d)
	if d == sw.max() {
		sw.worst = k
	}
}

func (sw *slotWatch) closeAll() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	now := time.Now()
	for k, since := range sw.open {
		sw.closeLocked(k, now.Sub(since))
	}
}

func (sw *slotWatch) max() time.Duration {
	var m time.Duration
	for _, d := range sw.closed {
		m = max(m, d)
	}
	return m
}

// result is how many doubled slots were seen, the longest, and over how
// many samples.
func (sw *slotWatch) result() (n int, longest time.Duration, worst string, samples int) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	return len(sw.closed), sw.max(), sw.worst, sw.samples
}
