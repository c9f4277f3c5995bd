package node

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
)

// A removed node's peer ID is on the replicated deny list (state: the
// removal adds it in the same entry). Every way a peer ID gets in refuses
// it: the connection gater in both directions (and the node closes what
// is open to it at once), the join server, the node RPC, the state feed,
// the leader's proposals (no node record for it again), and gossip, which
// neither admits nor lists a member whose meta names it. Each is handed
// only denied, not the agent.

// denied reports whether peer ID id was removed from the cluster for good.
func (a *Agent) denied(id string) bool { return a.store().PeerDenied(id) }

// refuseDeniedRegistration refuses, on the leader, a node record for a
// denied peer ID: a join handshake that began before the removal
// committed must not bring the node back.
func (a *Agent) refuseDeniedRegistration(cmd api.Command) error {
	if cmd.Type != api.CmdRegisterNode {
		return nil
	}
	var p api.RegisterNodePayload
	if json.Unmarshal(cmd.Payload, &p) != nil || !a.denied(p.Node.ID) {
		return nil // the FSM refuses a bad payload with the decoding error
	}
	return api.Errorf(api.CodeForbidden, "node %s (%s) was removed from the cluster and may not register again", p.Node.Name, api.ShortID(p.Node.ID))
}

// enforceDenyList makes the connection gater refuse denied peers; it is
// called once the replicated state is open.
func (a *Agent) enforceDenyList() {
	a.refusals = newRefusalLog()
	a.host.Gater().SetDenied(func(id peer.ID) bool { return a.denied(id.String()) }, a.logRefusedPeer)
}

// cutOffDenied closes the connections still open to denied peers, logs
// each removal once when this node first sees it applied (silently for
// removals older than announceDenied, which a restarted node replays),
// and says so once if this node itself was removed. The membership loop
// calls it whenever the node table changes, which a removal does.
func (a *Agent) cutOffDenied() {
	fresh := a.store().View().DeniedSince(a.denySeen.Load())
	closed := map[string]bool{}
	if len(fresh) > 0 {
		// Only a new denial can leave a connection to close here (the
		// host's sweeper catches the rest): a pass over every peer on
		// each node change would make N joins cost N².
		for _, id := range a.host.CloseDenied() {
			closed[id.String()] = true
		}
	}
	for _, d := range fresh {
		if time.Since(d.DeniedAt) < announceDenied || closed[d.ID] {
			a.log.Warn("cut off removed node "+d.Name+": its peer ID is denied", "node", d.Name, "node_id", api.ShortID(d.ID), "connections_closed", closed[d.ID])
		}
		delete(closed, d.ID)
		a.denySeen.Store(d.Seq)
	}
	for id := range closed {
		a.log.Warn("closed the connections of removed node "+a.deniedName(id), "node_id", api.ShortID(id))
	}
	if a.denied(a.ID()) && a.removedSelf.CompareAndSwap(false, true) {
		a.log.Error("this node was removed from the cluster (shoal node rm) and is cut off from it; " +
			"stop the agent, and start it with an empty data dir to join again as a new node")
	}
}

// announceDenied is how recent a removal must be for cutOffDenied to log
// it when this node first sees it applied.
const announceDenied = 2 * time.Minute

// deniedName is the name a denied peer had when it was removed.
func (a *Agent) deniedName(id string) string {
	if d, ok := a.store().View().DeniedPeer(id); ok {
		return d.Name
	}
	return api.ShortID(id)
}

// logRefusedPeer logs a connection the gater refused to a denied peer, at
// most once per refusalLogEvery for each peer.
func (a *Agent) logRefusedPeer(id peer.ID, dir network.Direction, from string) {
	if !a.refusals.due(id, time.Now()) {
		return
	}
	a.log.Warn("refused a connection with a removed node: its peer ID is denied", "node", a.deniedName(id.String()),
		"node_id", api.ShortID(id.String()), "direction", dir.String(), "from", from)
}

// refusalLogEvery is how often a refused denied peer is logged again.
const refusalLogEvery = 30 * time.Second

// refusalLog remembers when each refused peer was last logged (bounded).
type refusalLog struct {
	mu   sync.Mutex
	last map[peer.ID]time.Time
}

func newRefusalLog() *refusalLog { return &refusalLog{last: map[peer.ID]time.Time{}} }

// due reports whether a refusal of id at now should be logged, and if so
// records it.
func (l *refusalLog) due(id peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[id]; ok && now.Sub(t) < refusalLogEvery {
		return false
	}
	if len(l.last) >= 1024 {
		l.last = map[peer.ID]time.Time{}
	}
	l.last[id] = now
	return true
}
