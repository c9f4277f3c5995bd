package gossip

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// denyList is a settable Config.Denied.
type denyList struct {
	mu  sync.Mutex
	ids map[string]bool
}

func (d *denyList) add(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ids == nil {
		d.ids = map[string]bool{}
	}
	d.ids[id] = true
}

func (d *denyList) denied(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ids[id]
}

// TestDelegatesRefuseDeniedMembers checks that an alive message whose
// meta names a denied node is refused, that a join's push/pull is refused
// when its live members are all denied (and merged when it also names
// members that are not), and that a denied member is neither listed nor
// reported although it was recorded alive before the deny.
func TestDelegatesRefuseDeniedMembers(t *testing.T) {
	g := bareGossip()
	g.clusterID = testCluster
	var deny denyList
	g.denied = deny.denied
	d := delegate{g}
	d.NotifyJoin(node("bad"))
	nextEventFrom(t, g, "bad")
	deny.add(testMeta("bad").NodeID)

	if err := d.NotifyAlive(node("bad")); err == nil || !strings.Contains(err.Error(), "removed from the cluster") {
		t.Fatalf("alive message of a denied node: %v, want refused", err)
	}
	if err := d.NotifyAlive(node("good")); err != nil {
		t.Fatalf("a member that is not denied was refused: %v", err)
	}
	dead := node("gone")
	dead.State = memberlist.StateDead
	if err := d.NotifyMerge([]*memberlist.Node{node("bad"), dead}); err == nil {
		t.Fatal("a join from a denied node alone was merged")
	}
	if err := d.NotifyMerge([]*memberlist.Node{node("bad"), node("good")}); err != nil {
		t.Fatalf("a join that names members that are not denied was refused: %v", err)
	}
	if err := d.NotifyMerge([]*memberlist.Node{node("self")}); err != nil {
		t.Fatalf("a merge naming only this node was refused: %v", err)
	}

	if _, ok := member(g, "bad"); ok {
		t.Fatal("a denied member is listed")
	}
	d.NotifyUpdate(node("bad"))
	d.NotifyLeave(node("bad"))
	select {
	case ev := <-g.Events():
		t.Fatalf("event about a denied member: %+v", ev)
	default:
	}
}

func nextEventFrom(t *testing.T, g *Gossip, name string) {
	t.Helper()
	select {
	case ev := <-g.Events():
		if ev.Member.Name != name {
			t.Fatalf("event about %s, want %s", ev.Member.Name, name)
		}
	default:
		t.Fatalf("no event about %s", name)
	}
}

// TestDeniedMemberCannotRejoin runs three members, denies n2 on the other
// two: they stop listing it at once although it still runs, and once it
// restarts and joins again they never list it.
func TestDeniedMemberCannotRejoin(t *testing.T) {
	var deny denyList
	gs := cluster(t, 3, func(c *Config) { c.Denied = deny.denied })
	bad := gs[2]
	deny.add(testMeta("n2").NodeID)
	for _, g := range gs[:2] {
		if _, ok := member(g, "n2"); ok {
			t.Fatalf("%s still lists denied n2", g.name)
		}
	}
	if err := bad.Shutdown(); err != nil {
		t.Fatal(err)
	}
	again := start(t, testConfig("n2"))
	again.Join([]string{gs[0].Addr()})
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, g := range gs[:2] {
			if m, ok := member(g, "n2"); ok {
				t.Fatalf("%s lists denied n2 after it rejoined: %+v", g.name, m)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
