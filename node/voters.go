package node

import (
	"context"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/raft"
)

// voterLoop keeps the Raft voter set at its target (raft.PlanVoters): it
// grows a young cluster to three voters as soon as a third node joins,
// keeps a caught-up standby, replaces failed voters, spreads voters over
// zones, and records roles on node records. It plans again on every gossip
// event, every change to the node records, and every half second (every
// 50 ms while a node that just registered may not answer yet).
func (a *Agent) voterLoop(ctx context.Context) {
	seen := &sightings{alive: map[string]time.Time{}, dead: map[string]time.Time{}}
	for {
		changed := a.membershipChanged.Wait()
		nodesChanged := a.store().View().NodesChanged()
		wait := 500 * time.Millisecond
		if a.planVoters(ctx, seen) {
			wait = 50 * time.Millisecond
		}
		next := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			next.Stop()
			return
		case <-changed:
		case <-nodesChanged:
		case <-next.C:
		}
		next.Stop()
	}
}

// sightings remembers, for this leader term, when each node was last seen
// to come alive and to die.
type sightings struct{ alive, dead map[string]time.Time }

// planVoters makes one plan over the node records and carries it out,
// holding voterMu (see evictForRemoval). It reports whether to plan again
// soon: while this leader is the only voter and a node just registered,
// whose agent may not answer yet (it starts serving a moment after its
// join commits).
func (a *Agent) planVoters(ctx context.Context, seen *sightings) (soon bool) {
	a.voterMu.Lock()
	defer a.voterMu.Unlock()
	nodes := a.store().Nodes() // read under the lock: a removal may have committed while this pass waited
	now := time.Now()
	up := a.liveNodes(nodes, now)
	cands := make([]raft.Candidate, 0, len(nodes))
	for _, n := range nodes {
		c := raft.Candidate{ID: n.ID, Alive: up[n.ID], Zone: n.Labels[a.cfg.Voters.ZoneLabel],
			Restarting: n.Status == api.NodeRestarting && now.Before(n.RestartBy)}
		if n.Status == api.NodeDown {
			c.DownSince = n.UpdatedAt
		}
		if c.Alive {
			delete(seen.dead, n.ID)
			if _, ok := seen.alive[n.ID]; !ok {
				seen.alive[n.ID] = now
			}
			c.AliveSince = seen.alive[n.ID]
		} else {
			delete(seen.alive, n.ID)
			if _, ok := seen.dead[n.ID]; !ok {
				seen.dead[n.ID] = now
			}
			c.DeadSince = seen.dead[n.ID]
		}
		cands = append(cands, c)
	}
	servers, err := a.cons.Servers()
	if err != nil {
		return false
	}
	a.probeCandidates(ctx, servers, cands)
	for _, ch := range raft.PlanVoters(now, a.ID(), servers, cands, a.cons.CommitIndex(), a.voterPolicy()) {
		if err := a.applyVoterChange(ch); err != nil {
			a.log.Warn("voter change failed", "change", ch.Kind.String(), "node_id", api.ShortID(ch.ID), "err", err)
			break
		}
		a.log.Info("voters: "+ch.Kind.String()+" "+a.nodeName(ch.ID), "change", ch.Kind.String(), "node_id", api.ShortID(ch.ID), "reason", ch.Reason, "term", a.cons.Term(), "index", a.cons.CommitIndex())
	}
	a.recordRoles(ctx)
	voters := 0
	for _, s := range servers {
		if s.Voter {
			voters++
		}
	}
	for _, n := range nodes {
		if voters == 1 && n.ID != a.ID() && n.Status == api.NodeReady && now.Sub(n.UpdatedAt) < joinGrace {
			return true
		}
	}
	return false
}

// voterPolicy is the planner's policy from this agent's config.
func (a *Agent) voterPolicy() raft.VoterPolicy {
	return raft.VoterPolicy{
		BaseVoters:  a.cfg.Voters.Target,
		LargeVoters: a.cfg.Voters.Large,
		LargeAt:     a.cfg.Voters.LargeAt,
		StableFor:   time.Duration(a.cfg.Voters.StableFor),
		DeadGrace:   time.Duration(a.cfg.Voters.DeadGrace),
		ReapAfter:   time.Duration(a.cfg.Voters.ReapAfter),
		MaxLag:      250,
	}
}

// awaitVoterGrowth holds a join answer on a leader that is the only voter
// of a cluster that now has three nodes or more, until the voter loop has
// grown the voter set (at most a second): a joiner that says it joined is
// then never in a cluster that one death can lose. The joiner's Raft and
// RPC answer this member during the handshake (see joinCluster).
func (a *Agent) awaitVoterGrowth(ctx context.Context) {
	if !a.cons.IsLeader() || len(a.store().Nodes()) < 3 {
		return
	}
	deadline := time.NewTimer(time.Second)
	defer deadline.Stop()
	for {
		// The voter loop records roles on node records after each change.
		rolesChanged := a.store().View().NodesChanged()
		if !a.cons.IsLeader() || a.otherVoters() > 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-rolesChanged:
		}
	}
}

// isVoter reports whether id is a voter in this node's view of the Raft
// configuration (the leader's is the current one).
func (a *Agent) isVoter(id string) bool {
	servers, err := a.cons.Servers()
	if err != nil {
		return false
	}
	for _, s := range servers {
		if s.ID == id {
			return s.Voter
		}
	}
	return false
}
