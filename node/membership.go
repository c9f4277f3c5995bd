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
	nodes := a.store().Nodes()
	if _, ok := a.store().Cluster(); !ok || len(nodes) == 0 {
		return // not synced yet: keep trusting the data dir's peers
	}
	ids := make([]peer.ID, 0, len(nodes))
	for _, n := range nodes {
		id, err := peer.Decode(n.ID)
		if err != nil {
			continue
		}
		ids = append(ids, id)
		if id != a.host.ID() && n.P2PAddr != "" {
			a.host.SetPeerAddr(id, n.P2PAddr)
		}
	}
	a.host.Gater().SetMembers(ids)
	a.overlayGossipAddrs()
	if err := a.state.replacePeers(peerRecordsOf(nodes), a.cfg.DataDir); err != nil {
		a.log.Warn("peers not saved", "err", err)
	}
}

// overlayGossipAddrs prefers the address gossip last saw a node at: a node
// that restarted on a new address is reachable before its record changes.
func (a *Agent) overlayGossipAddrs() {
	for _, m := range a.gossip.Members() {
		if m.State != gossip.MemberAlive || m.Meta.NodeID == "" || m.Meta.NodeID == a.ID() {
			continue
		}
		id, err := peer.Decode(m.Meta.NodeID)
		if err != nil || !a.host.Gater().IsMember(id) {
			continue
		}
		host, _, err := net.SplitHostPort(m.Addr)
		if err != nil {
			continue
		}
		a.host.SetPeerAddr(id, net.JoinHostPort(host, strconv.Itoa(int(m.Meta.P2PPort))))
	}
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
