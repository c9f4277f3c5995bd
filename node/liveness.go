package node

import (
	"net"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
)

// joinGrace is how long a node that just registered counts as up before
// gossip has seen it: the leader acts on a join (voters, placement) at
// once instead of waiting for the joiner's first gossip round.
const joinGrace = 5 * time.Second

// liveNodes is the set of node IDs that are up now, as the leader decides
// it (see liveSet).
func (a *Agent) liveNodes(nodes []*api.Node, now time.Time) map[string]bool {
	return liveSet(a.ID(), nodes, gossipSightings(a.gossip.Members(), nodes, a.state.ClusterID), a.gone.gone(), now)
}

// gossipSightings is what gossip says of each node, by node ID. A gossip
// member speaks for node X only from X's registered gossip address: the
// node record is written by X itself over libp2p (authenticated by its
// peer ID), while anyone holding the gossip key can gossip a member that
// names X. An impostor on another address is ignored, and one that
// claims X's address is probed there, where X, if dead, does not answer.
func gossipSightings(members []gossip.Member, nodes []*api.Node, clusterID string) map[string]sighting {
	registered := make(map[string]string, len(nodes))
	for _, n := range nodes {
		registered[n.ID] = n.GossipAddr
	}
	seen := map[string]sighting{}
	for _, m := range members {
		if m.Meta.NodeID == "" || m.Meta.ClusterID != clusterID {
			continue
		}
		if want, ok := registered[m.Meta.NodeID]; ok && want != "" && !sameAddr(want, m.Addr) {
			continue
		}
		if st, ok := seen[m.Meta.NodeID]; !ok || m.State < st.state {
			seen[m.Meta.NodeID] = sighting{m.State, m.Since} // alive beats suspect beats dead
		}
	}
	return seen
}

// sameAddr compares two host:port addresses by IP and port.
func sameAddr(a, b string) bool {
	ah, ap, err1 := net.SplitHostPort(a)
	bh, bp, err2 := net.SplitHostPort(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	aip, bip := net.ParseIP(ah), net.ParseIP(bh)
	if aip == nil || bip == nil {
		return ah == bh && ap == bp
	}
	return aip.Equal(bip) && ap == bp
}

// sighting is a node's gossip state and when this node saw it begin.
type sighting struct {
	state gossip.MemberState
	since time.Time
}

// liveSet decides which nodes are up: self always; a node gossip sees
// alive or suspect, unless the gone prober found it gone; and a ready node that registered less than joinGrace
// ago while gossip has not seen that run yet — not at all (a joiner), or
// only dead or gone from before the registration (an agent that
// restarted).
func liveSet(self string, nodes []*api.Node, seen map[string]sighting, gone map[string]bool, now time.Time) map[string]bool {
	live := map[string]bool{self: true}
	for _, n := range nodes {
		st, ok := seen[n.ID]
		switch {
		case ok && (st.state == gossip.MemberAlive || st.state == gossip.MemberSuspect) && !gone[n.ID]:
			live[n.ID] = true
		case n.Status == api.NodeReady && now.Sub(n.UpdatedAt) < joinGrace && (!ok || st.since.Before(n.UpdatedAt)):
			live[n.ID] = true
		}
	}
	return live
}

// wantStatus is the status the leader records for node n: a restarting
// node stays restarting until its deadline (the restarted agent marks
// itself ready when it registers again); otherwise ready when up, down
// when not.
func wantStatus(n *api.Node, up bool, now time.Time) api.NodeStatus {
	switch {
	case n.Status == api.NodeRestarting && now.Before(n.RestartBy):
		return api.NodeRestarting
	case up:
		return api.NodeReady
	}
	return api.NodeDown
}
