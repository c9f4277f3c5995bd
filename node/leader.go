package node

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/raft"
)

// leadershipLoop starts the leader-only loops when this node wins an
// election and stops them when it loses leadership.
func (a *Agent) leadershipLoop(ctx context.Context) {
	var running *leaderTerm
	defer func() { running.stop() }()
	changes := a.cons.LeaderChanges()
	isLeader := a.cons.IsLeader()
	for {
		if isLeader && running == nil {
			running = a.startLeaderTerm(ctx)
			a.log.Info("leading the cluster", "term", a.cons.Term())
		} else if !isLeader && running != nil {
			running.stop()
			running = nil
			a.log.Info("no longer the leader", "term", a.cons.Term())
		}
		select {
		case <-ctx.Done():
			return
		case isLeader = <-changes:
		}
	}
}

// leaderTerm is one run of the leader loops.
type leaderTerm struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (a *Agent) startLeaderTerm(ctx context.Context) *leaderTerm {
	lctx, cancel := context.WithCancel(ctx)
	t := &leaderTerm{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		a.runLeader(lctx)
	}()
	return t
}

func (t *leaderTerm) stop() {
	if t == nil {
		return
	}
	t.cancel()
	<-t.done
}

// runLeader runs every leader-side reconciliation loop until ctx ends.
// The loops never call each other: each watches the store (and gossip) and
// writes commands.
func (a *Agent) runLeader(ctx context.Context) {
	loops := []func(context.Context){a.livenessLoop, a.voterLoop}
	loops = append(loops, a.reconcileLoops()...)
	done := make(chan struct{}, len(loops))
	for _, loop := range loops {
		go func(loop func(context.Context)) {
			defer func() { done <- struct{}{} }()
			loop(ctx)
		}(loop)
	}
	for range loops {
		<-done
	}
}

// statusChange is a node record whose status should become want.
type statusChange struct {
	node *api.Node
	want api.NodeStatus
}

// statusWritesInFlight bounds the status changes committed at once. A rack
// that dies takes tens of nodes down together; one commit after another
// at a few commits a second under load would mark the last of 100 down
// seconds after the first, and keep its tasks waiting for replacement
// that long. Proposed together, Raft carries them in a few log batches.
const statusWritesInFlight = 64

// recordStatuses commits each change through submit, up to
// statusWritesInFlight at once, and logs it.
func recordStatuses(ctx context.Context, changes []statusChange, submit func(context.Context, api.SetNodeStatusPayload) error, log *slog.Logger) {
	sem := make(chan struct{}, statusWritesInFlight)
	var wg sync.WaitGroup
	for _, c := range changes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := submit(cctx, api.SetNodeStatusPayload{NodeID: c.node.ID, Status: c.want})
			cancel()
			n := c.node
			switch {
			case err != nil:
				log.Warn("node status not recorded", "node", n.Name, "status", c.want, "err", err)
			case n.Status == api.NodeRestarting:
				log.Info("node status changed: its restart grace ran out", "node", n.Name, "node_id", api.ShortID(n.ID), "from", n.Status, "status", c.want)
			default:
				log.Info("node status changed", "node", n.Name, "node_id", api.ShortID(n.ID), "from", n.Status, "status", c.want)
			}
		})
	}
	wg.Wait()
}

func (a *Agent) submitNodeStatus(ctx context.Context, p api.SetNodeStatusPayload) error {
	_, err := a.submitPayload(ctx, api.CmdSetNodeStatus, "", p)
	return err
}

// aliveNodeIDs is the set of node IDs that are up now (see liveSet).
func (a *Agent) aliveNodeIDs() map[string]bool {
	return a.liveNodes(a.store().Nodes(), time.Now())
}

// livenessLoop converges node records' status to what gossip sees (or the
// gone prober found, see gone.go), and ends the restart grace of
// nodes that did not come back in time.
func (a *Agent) livenessLoop(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	defer a.gone.stop()
	defer a.lost.reset()
	for {
		changed := a.membershipChanged.Wait()
		now := time.Now()
		nodes := a.store().Nodes()
		a.gone.track(ctx, a.lost.candidates(nodes, a.connectedTo, now))
		up := a.liveNodes(nodes, now)
		var changes []statusChange
		for _, n := range nodes {
			if want := wantStatus(n, up[n.ID], now); n.Status != want {
				changes = append(changes, statusChange{n, want})
			}
		}
		recordStatuses(ctx, changes, a.submitNodeStatus, a.log)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// probeCandidates asks the members that could become voters in this
// pass how far they have applied, which also proves they answer: the
// non-voters, and — while this leader is the only voter, when the planner
// may add members straight as voters — every alive member.
func (a *Agent) probeCandidates(ctx context.Context, servers []raft.Server, cands []raft.Candidate) {
	inConfig, voters := map[string]bool{}, 0
	for _, s := range servers {
		inConfig[s.ID] = s.Voter
		if s.Voter {
			voters++
		}
	}
	for i := range cands {
		c := &cands[i]
		if c.ID == a.ID() {
			c.Reachable, c.AppliedIndex = true, a.store().AppliedIndex()
			continue
		}
		voter, configured := inConfig[c.ID]
		if !c.Alive || voter || (!configured && voters != 1) {
			continue
		}
		id, err := peer.Decode(c.ID)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		var st statusReply
		if err := a.call(cctx, id, rpcStatus, struct{}{}, &st); err == nil {
			c.AppliedIndex, c.Reachable = st.AppliedIndex, true
		}
		cancel()
	}
}

func (a *Agent) applyVoterChange(ch raft.Change) error {
	if id, err := peer.Decode(ch.ID); err == nil {
		a.host.Protect(id, "raft")
	}
	switch ch.Kind {
	case raft.AddNonvoter:
		return a.cons.AddNonvoter(ch.ID)
	case raft.Promote, raft.AddVoter:
		return a.cons.Promote(ch.ID)
	case raft.Demote:
		return a.cons.Demote(ch.ID)
	case raft.Remove:
		return a.cons.Remove(ch.ID)
	}
	return nil
}

// recordRoles writes the Raft configuration onto node records when it
// differs, so plain members can show roles too.
func (a *Agent) recordRoles(ctx context.Context) {
	servers, err := a.cons.Servers()
	if err != nil {
		return
	}
	want := map[string]api.Role{}
	for _, s := range servers {
		if s.Voter {
			want[s.ID] = api.RoleVoter
		} else {
			want[s.ID] = api.RoleNonvoter
		}
	}
	same := true
	for _, n := range a.store().Nodes() {
		w, ok := want[n.ID]
		if !ok {
			w = api.RoleMember
		}
		if n.RaftRole != w {
			same = false
		}
	}
	if same {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := a.submitPayload(cctx, api.CmdSetRaftRoles, "", api.SetRaftRolesPayload{Roles: want}); err != nil {
		a.log.Warn("raft roles not recorded", "err", err)
	}
}

// roleOf is a node's role as this node knows it now.
func (a *Agent) roleOf(n *api.Node) api.Role {
	if n.ID == a.leaderID() {
		return api.RoleLeader
	}
	if servers, err := a.cons.Servers(); err == nil && a.isRaftServer(servers) {
		for _, s := range servers {
			if s.ID == n.ID {
				if s.Voter {
					return api.RoleVoter
				}
				return api.RoleNonvoter
			}
		}
		return api.RoleMember
	}
	if n.RaftRole == "" {
		return api.RoleMember
	}
	return n.RaftRole
}

func (a *Agent) isRaftServer(servers []raft.Server) bool {
	for _, s := range servers {
		if s.ID == a.ID() {
			return true
		}
	}
	return false
}

// gossipEventLoop drains gossip events (memberlist must never block) and
// pokes the loops that care.
func (a *Agent) gossipEventLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-a.gossip.Events():
			if !ok {
				return
			}
			// A member seen at a new address is dialled there at once
			// (only this member: a pass over all would make N joins
			// cost N² address updates).
			if ev.Type != gossip.EventDead && ev.Type != gossip.EventLeave {
				if id, addr, ok := a.gossipP2PAddr(ev.Member); ok && a.host.Gater().IsMember(id) {
					a.host.SetPeerAddr(id, addr)
				}
			}
			a.logMemberEvent(ev)
			a.countMemberFailure(ev)
			a.membershipChanged.Fire()
		}
	}
}
