package raft

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// planner holds one PlanVoters computation.
type planner struct {
	now         time.Time
	leader      string
	cands       map[string]Candidate
	commitIndex uint64
	p           VoterPolicy
	changes     []Change
	zones       map[string]int // voters per zone
}

// PlanVoters decides the Raft configuration changes that move servers
// towards the policy, in the order to apply them. It is pure and
// deterministic. Rules:
//   - servers dead for DeadGrace, or no longer members, are removed (never
//     the leader);
//   - the target is TargetVoters(members alive or dead for less than
//     DeadGrace);
//   - nonvoters alive for StableFor and within MaxLag of commitIndex are
//     promoted while there are too few voters, preferring zones that have
//     no voter yet;
//   - surplus voters are demoted (never the leader), dead and crowded-zone
//     ones first;
//   - at the target, a voter sharing its zone is swapped for a caught-up
//     member of an unrepresented zone (promote first, then demote);
//   - alive members are added as nonvoters only as needed to reach the
//     target (or to stage a zone swap), new zones first;
//   - nonvoters no longer needed are removed.
//
// Members outside the Raft configuration stay plain members.
func PlanVoters(now time.Time, leaderID string, servers []Server, candidates []Candidate, commitIndex uint64, p VoterPolicy) []Change {
	pl := &planner{now: now, leader: leaderID, cands: map[string]Candidate{}, commitIndex: commitIndex, p: p.withDefaults(), zones: map[string]int{}}
	for _, c := range candidates {
		pl.cands[c.ID] = c
	}
	srv := slices.Clone(servers)
	slices.SortFunc(srv, func(a, b Server) int { return cmp.Compare(a.ID, b.ID) })

	inConfig := map[string]bool{}
	var voters, nonvoters []string
	for _, s := range srv {
		inConfig[s.ID] = true
		if reason := pl.removeReason(s.ID); reason != "" {
			pl.add(Remove, s.ID, reason)
			continue
		}
		if s.Voter {
			voters = append(voters, s.ID)
			pl.zones[pl.zone(s.ID)]++
		} else {
			nonvoters = append(nonvoters, s.ID)
		}
	}
	// Members dead for less than DeadGrace still count, so a short outage
	// does not shrink the voter set.
	present := 0
	for _, c := range pl.cands {
		if c.Alive || c.ID == leaderID || pl.now.Sub(c.DeadSince) < pl.p.DeadGrace {
			present++
		}
	}
	if _, ok := pl.cands[leaderID]; !ok && leaderID != "" {
		present++
	}
	target := TargetVoters(present, pl.p)
	nv := len(voters)

	// Promote caught-up nonvoters while there are too few voters.
	promoted := map[string]bool{}
	for nv < target {
		id, ok := pl.best(nonvoters, func(id string) bool { return !promoted[id] && pl.eligible(id) })
		if !ok {
			break
		}
		promoted[id] = true
		pl.zones[pl.zone(id)]++
		nv++
		pl.add(Promote, id, fmt.Sprintf("%d of %d voters", nv-1, target))
	}
	// Demote surplus voters.
	demoted := map[string]bool{}
	for nv > target {
		id, ok := pl.worst(voters, func(id string) bool { return !demoted[id] && id != leaderID })
		if !ok {
			break
		}
		demoted[id] = true
		pl.zones[pl.zone(id)]--
		nv--
		pl.add(Demote, id, fmt.Sprintf("%d voters, target %d", nv+1, target))
	}
	// At the target, spread voters over zones: swap one crowded voter
	// for a member of a zone without a voter.
	staged := map[string]bool{}
	if nv == target && len(promoted) == 0 && len(demoted) == 0 {
		crowded := func(id string) bool { return id != leaderID && pl.zones[pl.zone(id)] > 1 }
		if victim, ok := pl.worst(voters, crowded); ok {
			newZone := func(id string) bool { return pl.cands[id].Alive && pl.zones[pl.zone(id)] == 0 }
			if id, ok := pl.best(nonvoters, func(id string) bool { return newZone(id) && pl.eligible(id) }); ok {
				pl.add(Promote, id, "zone "+pl.zone(id)+" has no voter")
				pl.add(Demote, victim, "zone "+pl.zone(victim)+" has another voter")
				promoted[id], demoted[victim] = true, true
			} else if id, ok := pl.best(nonvoters, newZone); ok {
				staged[id] = true // wait for it to become eligible
			} else if id, ok := pl.best(pl.plainMembers(inConfig), newZone); ok {
				staged[id] = true
				pl.add(AddNonvoter, id, "stage a voter for zone "+pl.zone(id))
			}
		}
	}
	// Keep (or add) just enough nonvoters to reach the target.
	need := target - nv
	keep := map[string]bool{}
	for len(keep) < need {
		id, ok := pl.best(nonvoters, func(id string) bool { return !promoted[id] && !keep[id] && pl.cands[id].Alive })
		if !ok {
			break
		}
		keep[id] = true
		pl.zones[pl.zone(id)]++ // later picks prefer other zones
	}
	plain := pl.plainMembers(inConfig)
	for added := map[string]bool{}; len(keep)+len(added) < need; {
		id, ok := pl.best(plain, func(id string) bool { return !added[id] && !staged[id] })
		if !ok {
			break
		}
		added[id] = true
		pl.zones[pl.zone(id)]++
		pl.add(AddNonvoter, id, fmt.Sprintf("%d of %d voters", nv, target))
	}
	for _, id := range nonvoters {
		if !promoted[id] && !keep[id] && !staged[id] {
			pl.add(Remove, id, "nonvoter not needed")
		}
	}
	return pl.changes
}

func (pl *planner) add(kind ChangeKind, id, reason string) {
	pl.changes = append(pl.changes, Change{Kind: kind, ID: id, Reason: reason})
}

func (pl *planner) zone(id string) string { return pl.cands[id].Zone }

// removeReason says why a server should leave the configuration, or "".
func (pl *planner) removeReason(id string) string {
	if id == pl.leader {
		return ""
	}
	c, ok := pl.cands[id]
	switch {
	case !ok:
		return "not a member"
	case !c.Alive && pl.now.Sub(c.DeadSince) >= pl.p.DeadGrace:
		return fmt.Sprintf("dead for %s", pl.now.Sub(c.DeadSince).Round(time.Millisecond))
	}
	return ""
}

// eligible reports whether a member may become a voter now.
func (pl *planner) eligible(id string) bool {
	c, ok := pl.cands[id]
	if !ok || !c.Alive || pl.now.Sub(c.AliveSince) < pl.p.StableFor {
		return false
	}
	return c.AppliedIndex >= pl.commitIndex || pl.commitIndex-c.AppliedIndex <= pl.p.MaxLag
}

// plainMembers lists alive members outside the configuration, by ID.
func (pl *planner) plainMembers(inConfig map[string]bool) []string {
	var out []string
	for id, c := range pl.cands {
		if c.Alive && !inConfig[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// best returns the member of ids that ok accepts and that is the best
// voter: in the emptiest zone, most caught up, alive longest, lowest ID.
func (pl *planner) best(ids []string, ok func(string) bool) (string, bool) {
	return pick(ids, ok, func(a, b string) int {
		ca, cb := pl.cands[a], pl.cands[b]
		return cmp.Or(
			cmp.Compare(pl.zones[ca.Zone], pl.zones[cb.Zone]),
			cmp.Compare(cb.AppliedIndex, ca.AppliedIndex),
			ca.AliveSince.Compare(cb.AliveSince),
			cmp.Compare(a, b))
	})
}

// worst returns the member of ids that ok accepts and that is the worst
// voter: dead, in the most crowded zone, least caught up, lowest ID.
func (pl *planner) worst(ids []string, ok func(string) bool) (string, bool) {
	return pick(ids, ok, func(a, b string) int {
		ca, cb := pl.cands[a], pl.cands[b]
		return cmp.Or(
			compareBool(!ca.Alive, !cb.Alive),
			cmp.Compare(pl.zones[cb.Zone], pl.zones[ca.Zone]),
			cmp.Compare(ca.AppliedIndex, cb.AppliedIndex),
			cmp.Compare(a, b))
	})
}

// compareBool orders true before false.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// pick returns the first of ids under order among those ok accepts.
func pick(ids []string, ok func(string) bool, order func(a, b string) int) (string, bool) {
	var found string
	for _, id := range ids {
		if ok(id) && (found == "" || order(id, found) < 0) {
			found = id
		}
	}
	return found, found != ""
}
