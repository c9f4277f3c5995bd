package gossip

import (
	"fmt"

	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// bareGossip builds a Gossip without memberlist, for delegate unit tests.
func bareGossip() *Gossip {
	return &Gossip{
		name:    "self",
		logger:  slog.New(slog.DiscardHandler),
		deadTTL: time.Minute,
		members: make(map[string]*entry),
		leaving: make(map[string]time.Time),
		failed:  make(map[string]failure),
		renamed: make(map[string]failure),
		events:  make(chan Event, EventBuffer),
	}
}

func node(name string) *memberlist.Node {
	meta, _ := testMeta(name).Encode()
	return &memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Meta: meta}
}

func TestEventsDropOldestWhenFull(t *testing.T) {
	g := bareGossip()
	for i := range EventBuffer + 5 {
		g.emit(Event{Type: EventUpdate, Member: Member{Name: fmt.Sprint(i)}})
	}
	if g.DroppedEvents() != 5 {
		t.Errorf("dropped = %d, want 5", g.DroppedEvents())
	}
	if ev := <-g.events; ev.Member.Name != "5" {
		t.Errorf("oldest kept event is %s, want 5", ev.Member.Name)
	}
}

func TestLeaveIntentClassifiesDeparture(t *testing.T) {
	d := delegate{bareGossip()}
	g := d.g
	d.NotifyJoin(node("a"))
	d.NotifyJoin(node("b"))
	d.NotifyJoin(node("self"))

	// Intent first, then memberlist's notice: a graceful leave.
	d.NotifyMsg(encodeLeaveIntent("a"))
	d.NotifyLeave(node("a"))
	// No intent: a failure.
	d.NotifyLeave(node("b"))

	var got []string
	for len(g.events) > 0 {
		ev := <-g.events
		got = append(got, ev.Type.String()+" "+ev.Member.Name)
	}
	want := "[join a join b leave a dead b]"
	if fmt.Sprint(got) != want {
		t.Errorf("events = %v, want %s (no event for self)", got, want)
	}

	// An intent that loses the race with the dead notice corrects it.
	d.NotifyMsg(encodeLeaveIntent("b"))
	if ev := <-g.events; ev.Type != EventLeave || ev.Member.Name != "b" || ev.Member.State != MemberLeft {
		t.Errorf("late intent gave %+v, want leave of b", ev)
	}
	if m, _ := member(g, "b"); m.State != MemberLeft {
		t.Errorf("b listed as %v, want left", m.State)
	}
	if len(g.failed) != 0 {
		t.Errorf("left members are still reconnect targets: %v", g.failed)
	}
}

func TestAliveDelegateRefusesForeignMeta(t *testing.T) {
	d := delegate{bareGossip()}
	d.g.clusterID = testCluster
	if err := d.NotifyAlive(node("a")); err != nil {
		t.Errorf("same cluster refused: %v", err)
	}
	foreign := node("x")
	foreign.Meta, _ = Meta{ClusterID: "other"}.Encode()
	if err := d.NotifyAlive(foreign); err == nil {
		t.Error("member of another cluster accepted")
	}
	foreign.Meta = []byte("garbage")
	if err := d.NotifyAlive(foreign); err == nil {
		t.Error("member with unreadable meta accepted")
	}
}
