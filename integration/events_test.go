package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// eventFollower reads one /v1/events stream in the background.
type eventFollower struct {
	t      *testing.T
	name   string
	ch     chan api.Event
	errc   chan error
	cancel context.CancelFunc
}

// followEvents opens /v1/events on a with filter.
func followEvents(t *testing.T, a *agentProc, filter api.EventFilter) *eventFollower {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := api.NewClient(a.Endpoint()).Events(ctx, filter)
	if err != nil {
		cancel()
		t.Fatalf("events on %s: %v", a.Name, err)
	}
	f := &eventFollower{t: t, name: a.Name, ch: make(chan api.Event, 10000), errc: make(chan error, 1), cancel: cancel}
	t.Cleanup(f.close)
	go func() {
		defer stream.Close()
		for {
			ev, _, err := stream.Next()
			if err != nil {
				f.errc <- err
				return
			}
			f.ch <- *ev
		}
	}()
	return f
}

func (f *eventFollower) close() { f.cancel() }

// until reads events until done says so or the deadline passes.
func (f *eventFollower) until(timeout time.Duration, what string, done func(api.Event) bool) []api.Event {
	f.t.Helper()
	var got []api.Event
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-f.ch:
			got = append(got, ev)
			if done(ev) {
				return got
			}
		case err := <-f.errc:
			f.t.Fatalf("events on %s ended while waiting for %s: %v (read %d events)", f.name, what, err, len(got))
		case <-deadline:
			f.t.Fatalf("events on %s: no %s within %v; read:\n%s", f.name, what, timeout, eventList(got))
		}
	}
}

func eventList(evs []api.Event) string {
	s := ""
	for _, e := range evs {
		s += fmt.Sprintf("  %d %s %s %s node=%s %v\n", e.Index, e.Type, e.Action, e.Name, e.Node, e.Attrs)
	}
	return s
}

// key identifies an event for comparisons across streams.
func key(e api.Event) string {
	return fmt.Sprintf("%d %s %s %s %s", e.Index, e.Type, e.Action, e.ID, e.Attrs)
}

// TestEventsFollowResumeAndNodeLoss: a client follows a service's task
// events through a node that does not lead, sees every task reach running
// in index order, resumes after a disconnect with exactly the events it
// missed, and sees a killed node go down and its tasks end.
func TestEventsFollowResumeAndNodeLoss(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	waitVoters(t, c.agents[0], 3)
	leader := c.leader()
	var follower, third *agentProc
	for _, a := range c.agents {
		switch {
		case a == leader:
		case follower == nil:
			follower = a
		default:
			third = a
		}
	}
	web := api.EventFilter{Types: []api.EventType{api.EventTask}, Service: "web"}
	live := followEvents(t, follower, web)
	// The witness follows the same events on the leader from the start.
	witness := followEvents(t, leader, web)

	createService(t, leader, "web", "--replicas", "3")
	running := map[string]bool{}
	lastOf := map[string]uint64{}
	var prev uint64
	seen := live.until(60*time.Second, "3 running tasks", func(e api.Event) bool {
		if e.Type != api.EventTask || e.Service != "web" {
			t.Fatalf("filter let through %+v", e)
		}
		// A task placed as it is created has its create and assigned
		// events at one index; every later step is a later entry.
		if e.Index < prev || e.Index < lastOf[e.ID] || e.Index == lastOf[e.ID] && e.Action != "create" && e.Action != "assigned" {
			t.Fatalf("index %d after %d (task's last %d): %+v", e.Index, prev, lastOf[e.ID], e)
		}
		prev, lastOf[e.ID] = e.Index, e.Index
		if e.Action == "running" {
			running[e.ID] = true
		}
		return len(running) == 3
	})
	for id := range running {
		var actions []string
		for _, e := range seen {
			if e.ID == id {
				actions = append(actions, e.Action)
			}
		}
		if len(actions) < 3 || actions[0] != "create" || actions[1] != "assigned" {
			t.Fatalf("task %s went %v, want create, assigned, ... running", id, actions)
		}
	}
	last := prev
	live.close()
	t.Logf("3 tasks running by index %d:\n%s", last, eventList(seen))

	// More changes while the client is away.
	if out, err := leader.CLI("service", "scale", "web=5", "--detach"); err != nil {
		t.Fatalf("scale: %v\n%s", err, out)
	}
	waitRunning(t, leader, "web", 5, 60*time.Second)
	// The witness has seen the 2 new tasks run; everything it saw after
	// last is what the client missed.
	newRunning := map[string]bool{}
	var missed []api.Event
	witness.until(60*time.Second, "5 running tasks on the witness", func(e api.Event) bool {
		if e.Index > last {
			missed = append(missed, e)
		}
		if e.Action == "running" && !running[e.ID] {
			newRunning[e.ID] = true
		}
		return len(newRunning) == 2
	})
	upTo := missed[len(missed)-1].Index
	since := last
	resumed := followEvents(t, follower, api.EventFilter{Types: web.Types, Service: "web", Since: &since})
	var got []api.Event
	resumed.until(30*time.Second, fmt.Sprintf("the events up to index %d", upTo), func(e api.Event) bool {
		if e.Index <= upTo {
			got = append(got, e)
		}
		return e.Index >= upTo && len(got) >= len(missed)
	})
	if len(got) != len(missed) {
		t.Fatalf("resumed after %d: got\n%swant\n%s", last, eventList(got), eventList(missed))
	}
	for i := range got {
		if key(got[i]) != key(missed[i]) {
			t.Fatalf("resumed after %d: event %d is %s, want %s", last, i, key(got[i]), key(missed[i]))
		}
	}
	t.Logf("resumed after %d with the %d missed events up to %d", last, len(got), upTo)
	if got[0].Index <= last {
		t.Fatalf("resume after %d repeated index %d", last, got[0].Index)
	}

	// kill -9 a node: it goes down and its tasks end, on every replica.
	var onThird int
	ts, err := tasks(leader, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts {
		if x.NodeName == third.Name && x.State == api.TaskRunning {
			onThird++
		}
	}
	if onThird == 0 {
		t.Fatalf("no web task runs on %s to lose: %+v", third.Name, runningByNode(ts))
	}
	st, err := follower.status()
	if err != nil {
		t.Fatal(err)
	}
	from := st.AppliedIndex
	loss := followEvents(t, follower, api.EventFilter{Types: []api.EventType{api.EventNode, api.EventTask}, Since: &from})
	third.Die()
	down, ended := false, map[string]bool{}
	lost := loss.until(90*time.Second, fmt.Sprintf("%s down and its %d tasks ended", third.Name, onThird), func(e api.Event) bool {
		if e.Type == api.EventNode && e.Action == "down" && e.Name == third.Name {
			down = true
		}
		if e.Type == api.EventTask && e.Node == third.Name && (e.Action == "orphaned" || e.Action == "desired") {
			ended[e.ID] = true
		}
		return down && len(ended) >= onThird
	})
	t.Logf("after the kill of %s:\n%s", third.Name, eventList(lost))
}
