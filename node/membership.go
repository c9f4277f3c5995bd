package node

import (
	"context"
	"net"
	"reflect"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
)

// membershipLoop runs on every node. It keeps the connection gater's
// allow-list and the peer addresses equal to the replicated node list (plus
// what gossip says about fresh addresses), saves where peers are to the
// data dir, cuts off removed nodes, and registers this node again when its
// own record is stale (a restart on a new address, new runtimes).
func (a *Agent) membershipLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		// Only the node table matters here: waking on every commit would
		// cost every agent work in proportion to the members per commit.
		// (Before the cluster is synced the node table is empty, and the
		// first records arrive as a change to it.)
		nodesChanged := a.store().View().NodesChanged()
		a.syncMembership()
		a.cutOffDenied()
		a.refreshSelf(ctx)
		select {
		case <-ctx.Done():
			return
		case <-nodesChanged:
		case <-tick.C:
		}
	}
}

func (a *Agent) syncMembership() {
	view := a.store().View()
	nodes := view.Nodes()
	if _, ok := view.Cluster(); !ok || len(nodes) == 0 {
		return // not synced yet: keep trusting the data dir's peers
	}
	ids := make([]peer.ID, 0, len(nodes))
	addrs := make(map[peer.ID]string, len(nodes))
	for _, n := range nodes {
		id, err := peer.Decode(n.ID)
		if err != nil {
			continue
		}
		ids = append(ids, id)
		if id != a.host.ID() && n.P2PAddr != "" {
			addrs[id] = n.P2PAddr
		}
	}
	a.host.Gater().SetMembers(ids)
	// Prefer the address gossip last saw a node at: a node that restarted
	// on a new address is reachable before its record changes.
	for _, m := range a.gossip.Members() {
		if id, addr, ok := a.gossipP2PAddr(m); ok {
			if _, member := addrs[id]; member {
				addrs[id] = addr
			}
		}
	}
	for id, addr := range addrs {
		a.host.SetPeerAddr(id, addr) // a no-op when unchanged
	}
	if err := a.state.replacePeers(peerRecordsOf(nodes), a.cfg.DataDir); err != nil {
		a.log.Warn("peers not saved", "err", err)
	}
}

// gossipP2PAddr is the libp2p address of a live gossip member other than
// this node, from the address gossip sees it at and the port it announces.
func (a *Agent) gossipP2PAddr(m gossip.Member) (peer.ID, string, bool) {
	if m.State != gossip.MemberAlive || m.Meta.NodeID == "" || m.Meta.NodeID == a.ID() {
		return "", "", false
	}
	id, err := peer.Decode(m.Meta.NodeID)
	if err != nil {
		return "", "", false
	}
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return "", "", false
	}
	return id, net.JoinHostPort(host, strconv.Itoa(int(m.Meta.P2PPort))), true
}

// refreshSelf re-registers this node when its replicated record does not
// match what it is now, or still says it is restarting (this is the run
// after a graceful restart).
func (a *Agent) refreshSelf(ctx context.Context) {
	if a.leaderID() == "" || a.stopping.Load() || a.removedSelf.Load() {
		return // no leader yet, a restart was announced (the next run registers), or removed
	}
	want := a.selfNode()
	have, ok := a.store().Node(a.ID())
	if ok && have.Status != api.NodeRestarting && have.Protocol == want.Protocol &&
		have.P2PAddr == want.P2PAddr && have.GossipAddr == want.GossipAddr && have.APIAddr == want.APIAddr &&
		reflect.DeepEqual(have.Runtimes, want.Runtimes) && have.Resources == want.Resources {
		return
	}
	if ok {
		// Labels belong to the cluster once a node is registered: `node
		// update --label-add` may have changed them since.
		want.Labels = have.Labels
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.submitPayload(cctx, api.CmdRegisterNode, "", api.RegisterNodePayload{Node: want}); err != nil {
		a.log.Warn("this node not re-registered", "err", err)
	}
}
