package gossip

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegate receives memberlist callbacks. memberlist calls it with its own
// locks held, so it must never block and never call back into memberlist.
type delegate struct{ g *Gossip }

var (
	_ memberlist.Delegate         = delegate{}
	_ memberlist.EventDelegate    = delegate{}
	_ memberlist.AliveDelegate    = delegate{}
	_ memberlist.ConflictDelegate = delegate{}
	_ memberlist.MergeDelegate    = delegate{}
)

// NodeMeta returns this node's encoded Meta (at most MaxMetaSize bytes).
func (d delegate) NodeMeta(limit int) []byte {
	d.g.metaMu.Lock()
	defer d.g.metaMu.Unlock()
	if len(d.g.metaBytes) > limit { // cannot happen: Encode caps at MaxMetaSize
		return nil
	}
	return append([]byte(nil), d.g.metaBytes...)
}

// NotifyMsg handles Shoal's user messages (leave intents).
func (d delegate) NotifyMsg(b []byte) {
	if name, ok := decodeLeaveIntent(b); ok {
		d.g.onLeaveIntent(name)
	}
}

// GetBroadcasts has nothing to piggyback.
func (delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState has no extra state for push/pull.
func (delegate) LocalState(join bool) []byte { return nil }

// MergeRemoteState ignores push/pull user state.
func (delegate) MergeRemoteState(buf []byte, join bool) {}

// NotifyAlive refuses members whose meta is unreadable, names another
// cluster (so that two clusters sharing a key and label still stay apart),
// or names a denied node.
func (d delegate) NotifyAlive(n *memberlist.Node) error {
	if n.Name == d.g.name {
		return nil
	}
	err := d.g.checkMember(n)
	if err != nil {
		d.g.aliveRefused.Add(1)
		d.g.refusal.Store(err.Error())
	} else {
		d.g.aliveOK.Add(1)
	}
	return err
}

// checkMember says why a remote member cannot be one of ours, if it cannot.
func (g *Gossip) checkMember(n *memberlist.Node) error {
	m, err := DecodeMeta(n.Meta)
	if err != nil {
		return fmt.Errorf("member %s: %w", n.Name, err)
	}
	if m.ClusterID != g.clusterID {
		return fmt.Errorf("member %s is in cluster %q, not %q", n.Name, m.ClusterID, g.clusterID)
	}
	if g.isDenied(m.NodeID) {
		return fmt.Errorf("member %s is node %s, which was removed from the cluster (denied)", n.Name, m.NodeID)
	}
	return nil
}

// isDenied reports whether nodeID is denied.
func (g *Gossip) isDenied(nodeID string) bool {
	return nodeID != "" && g.denied != nil && g.denied(nodeID)
}

// NotifyMerge refuses the push/pull of a join whose live members are all
// denied: a removed node rejoining on its own. A list that also names
// members that are not denied is merged — it may come from a member that
// still holds a removed node alive from before the removal — and
// NotifyAlive refuses its denied entries one by one.
func (d delegate) NotifyMerge(peers []*memberlist.Node) error {
	g := d.g
	denied, live := "", 0
	for _, n := range peers {
		if n.State != memberlist.StateAlive || n.Name == g.name {
			continue
		}
		live++
		m, err := DecodeMeta(n.Meta)
		if err != nil || !g.isDenied(m.NodeID) {
			return nil
		}
		denied = n.Name
	}
	if live == 0 {
		return nil
	}
	return fmt.Errorf("join from member %s refused: it was removed from the cluster (denied)", denied)
}

// NotifyJoin records a member that became alive.
func (d delegate) NotifyJoin(n *memberlist.Node) {
	d.g.record(n, MemberAlive, EventJoin)
}

// NotifyUpdate records a member whose meta changed.
func (d delegate) NotifyUpdate(n *memberlist.Node) {
	d.g.record(n, MemberAlive, EventUpdate)
}

// NotifyLeave records a member that memberlist declared dead or left;
// a leave intent received earlier makes it a graceful leave.
func (d delegate) NotifyLeave(n *memberlist.Node) {
	g := d.g
	g.mu.Lock()
	_, intended := g.leaving[n.Name]
	delete(g.leaving, n.Name)
	g.mu.Unlock()
	if intended {
		g.record(n, MemberLeft, EventLeave)
	} else {
		g.record(n, MemberDead, EventDead)
	}
}

// NotifyConflict sees a member claim a name that an entry at another
// address still holds: typically a node restarted on a new port before
// DeadNodeReclaimTime passed since its old self died. memberlist refuses
// it and would only retry at the next push/pull, so the new address is
// handed to the reconnect loop, which rejoins it until it is accepted.
func (d delegate) NotifyConflict(existing, other *memberlist.Node) {
	g := d.g
	if other.Name == g.name {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.renamed[other.Name]; !ok || f.addr != other.Address() {
		g.logger.Warn("gossip: a member claims an address another still holds", "member", other.Name, "addr", other.Address(), "holder", existing.Address())
		g.renamed[other.Name] = failure{addr: other.Address(), since: time.Now()}
	}
}

// memberOf converts a memberlist node, decoding its meta.
func (g *Gossip) memberOf(n *memberlist.Node, s MemberState) Member {
	m, err := DecodeMeta(n.Meta)
	if err != nil {
		g.logger.Warn("gossip: bad member meta", "member", n.Name, "err", err)
	}
	return Member{Name: n.Name, Addr: n.Address(), Meta: m, State: s}
}

// record stores the member's new state and emits the event for remote
// members that are not denied.
func (g *Gossip) record(n *memberlist.Node, s MemberState, t EventType) {
	m := g.memberOf(n, s)
	m.Since = time.Now()
	g.mu.Lock()
	g.members[m.Name] = &entry{Member: m}
	if s == MemberAlive {
		delete(g.leaving, m.Name)
	}
	if s == MemberAlive && g.renamed[m.Name].addr == m.Addr {
		delete(g.renamed, m.Name)
	}
	if s == MemberDead && m.Name != g.name {
		g.failed[m.Name] = failure{addr: m.Addr, since: time.Now()}
	} else {
		delete(g.failed, m.Name)
	}
	g.mu.Unlock()
	if m.Name != g.name && !g.isDenied(m.Meta.NodeID) {
		g.emit(Event{Type: t, Member: m})
	}
}

// emit queues ev without blocking, dropping the oldest queued event when
// the buffer is full.
func (g *Gossip) emit(ev Event) {
	g.evMu.Lock()
	defer g.evMu.Unlock()
	if g.closed {
		return
	}
	for {
		select {
		case g.events <- ev:
			return
		default:
		}
		select {
		case <-g.events:
			g.dropped.Add(1)
		default:
		}
	}
}
