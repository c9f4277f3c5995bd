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
	zones       map[string]int  // voters per zone
	lostZones   map[string]bool // zones with a failed voter or a down member
}

// PlanVoters decides the Raft configuration changes that move servers
// towards the policy, in the order to apply them. It is pure and
// deterministic. Rules:
//   - the target is TargetVoters of the members the cluster has: alive,
//     restarting and down ones, until a down one is removed (no longer a
//     candidate) or has been down for ReapAfter. A failure therefore never
//     shrinks the voter set;
//   - servers that are no longer members, or reaped, are removed; so are
//     nonvoters dead for DeadGrace (never the leader);
//   - a voter dead for DeadGrace (and not restarting) is failed: it is
//     replaced by a caught-up nonvoter, from its zone when there is one —
//     promote first, then remove it. Without a replacement it stays in the
//     configuration (removing it would not make the cluster any safer) and
//     a member is staged as a nonvoter to replace it;
//   - while there are too few voters, caught-up nonvoters (alive for
//     StableFor, within MaxLag of commitIndex) are promoted, new zones
//     first. A one-voter cluster grows straight to three voters: it
//     promotes a caught-up nonvoter and adds a second member as a voter in
//     the same plan, so it never sits at two voters, which survive no
//     failure;
//   - surplus voters are demoted (never the leader), failed ones removed
//     first;
//   - at the target, a voter sharing its zone is swapped for a caught-up
//     member of an unrepresented zone (promote first, then demote);
//   - nonvoters are kept, or alive members added as nonvoters, to fill the
//     gap to the target plus one standby, so the next join or failure is
//     met by a promotion of a member that is already caught up;
//   - nonvoters beyond that are removed.
//
// Members outside the Raft configuration stay plain members.
func PlanVoters(now time.Time, leaderID string, servers []Server, candidates []Candidate, commitIndex uint64, p VoterPolicy) []Change {
	pl := &planner{now: now, leader: leaderID, cands: map[string]Candidate{}, commitIndex: commitIndex,
		p: p.withDefaults(), zones: map[string]int{}, lostZones: map[string]bool{}}
	for _, c := range candidates {
		pl.cands[c.ID] = c
		if !c.DownSince.IsZero() && !pl.reaped(c) {
			pl.lostZones[c.Zone] = true
		}
	}
	srv := slices.Clone(servers)
	slices.SortFunc(srv, func(a, b Server) int { return cmp.Compare(a.ID, b.ID) })

	inConfig := map[string]bool{}
	var voters, failed, nonvoters []string
	for _, s := range srv {
		inConfig[s.ID] = true
		if reason := pl.removeReason(s); reason != "" {
			pl.add(Remove, s.ID, reason)
			continue
		}
		switch {
		case s.Voter && pl.failed(s.ID):
			failed = append(failed, s.ID)
			pl.lostZones[pl.zone(s.ID)] = true
		case s.Voter:
			voters = append(voters, s.ID)
			pl.zones[pl.zone(s.ID)]++
		default:
			nonvoters = append(nonvoters, s.ID)
		}
	}
	target := TargetVoters(pl.counted(), len(voters)+len(failed), pl.p)
	promoted := map[string]bool{}
	eligible := func(id string) bool { return !promoted[id] && pl.eligible(id) }

	// Replace failed voters by caught-up nonvoters, from their zones.
	var kept []string
	for _, f := range failed {
		id, ok := pl.bestIn(nonvoters, pl.zone(f), eligible)
		if !ok {
			kept = append(kept, f)
			continue
		}
		promoted[id] = true
		pl.zones[pl.zone(id)]++
		voters = append(voters, id)
		pl.add(Promote, id, "replaces failed voter "+f)
		pl.add(Remove, f, pl.deadFor(f))
	}
	size := len(voters) + len(kept)

	// Grow: a single voter goes to three at once, or not at all.
	if size == 1 && target >= 3 {
		size += pl.growFromOne(nonvoters, inConfig, promoted)
	}
	for size < target && size != 1 {
		id, ok := pl.best(nonvoters, eligible)
		if !ok {
			break
		}
		promoted[id] = true
		pl.zones[pl.zone(id)]++
		size++
		pl.add(Promote, id, fmt.Sprintf("%d of %d voters", size-1, target))
	}
	// Shrink: failed voters go first, then the worst healthy ones.
	demoted := map[string]bool{}
	for size > target && len(kept) > 0 {
		pl.add(Remove, kept[0], fmt.Sprintf("%s; %d voters, target %d", pl.deadFor(kept[0]), size, target))
		kept = kept[1:]
		size--
	}
	for size > target {
		id, ok := pl.worst(voters, func(id string) bool { return !demoted[id] && !promoted[id] && id != leaderID })
		if !ok {
			break
		}
		demoted[id] = true
		pl.zones[pl.zone(id)]--
		size--
		pl.add(Demote, id, fmt.Sprintf("%d voters, target %d", size+1, target))
	}
	staged := pl.swapZones(voters, nonvoters, inConfig, len(promoted) == 0 && len(demoted) == 0 && len(kept) == 0 && size == target, promoted, demoted)

	// Keep (or add) nonvoters for the gap to the target, plus a standby.
	need := target - (size - len(kept)) + 1
	keep := map[string]bool{}
	for len(keep) < need {
		id, ok := pl.best(nonvoters, func(id string) bool {
			return !promoted[id] && !keep[id] && (pl.alive(id) || pl.cands[id].Restarting)
		})
		if !ok {
			break
		}
		keep[id] = true
		pl.zones[pl.zone(id)]++ // later picks prefer other zones
	}
	plain := pl.plainMembers(inConfig, promoted)
	for added := map[string]bool{}; len(keep)+len(added) < need; {
		id, ok := pl.best(plain, func(id string) bool { return !added[id] && !staged[id] })
		if !ok {
			break
		}
		added[id] = true
		pl.zones[pl.zone(id)]++
		reason := "standby"
		if len(keep)+len(added) < need {
			reason = fmt.Sprintf("%d of %d voters", size-len(kept), target)
		}
		pl.add(AddNonvoter, id, reason)
	}
	for _, id := range nonvoters {
		if !promoted[id] && !keep[id] && !staged[id] {
			pl.add(Remove, id, "nonvoter not needed")
		}
	}
	return pl.changes
}

// growFromOne takes a one-voter cluster to three voters in one plan: it
// promotes caught-up nonvoters and adds other members that answer straight
// as voters (see AddVoter), caught-up ones first. It returns how many voters
// it added: 2, or 0 when there are not two members to add.
func (pl *planner) growFromOne(nonvoters []string, inConfig, promoted map[string]bool) int {
	var picks []string
	var kinds []ChangeKind
	undo := func() {
		for _, id := range picks {
			pl.zones[pl.zone(id)]--
		}
	}
	others := append(slices.Clone(nonvoters), pl.plainMembers(inConfig, nil)...)
	for len(picks) < 2 {
		kind := Promote
		id, ok := pl.best(nonvoters, func(id string) bool { return !slices.Contains(picks, id) && pl.eligible(id) })
		if !ok {
			if id, ok = pl.best(others, func(id string) bool { return !slices.Contains(picks, id) && pl.cands[id].Reachable }); !ok {
				undo()
				return 0
			}
			if !slices.Contains(nonvoters, id) {
				kind = AddVoter
			}
		}
		picks, kinds = append(picks, id), append(kinds, kind)
		pl.zones[pl.zone(id)]++ // the second pick prefers another zone
	}
	for i, id := range picks {
		promoted[id] = true
		pl.add(kinds[i], id, fmt.Sprintf("one voter grows to three (%d of 3)", i+2))
	}
	return 2
}

// swapZones spreads voters over zones when the voter set is otherwise at
// rest: it swaps one crowded voter for a member of a zone without a voter
// (promote first, then demote), or stages such a member. It returns the
// members staged for a later swap.
func (pl *planner) swapZones(voters, nonvoters []string, inConfig map[string]bool, atRest bool, promoted, demoted map[string]bool) map[string]bool {
	staged := map[string]bool{}
	if !atRest {
		return staged
	}
	crowded := func(id string) bool { return id != pl.leader && pl.zones[pl.zone(id)] > 1 }
	victim, ok := pl.worst(voters, crowded)
	if !ok {
		return staged
	}
	newZone := func(id string) bool { return pl.alive(id) && pl.zones[pl.zone(id)] == 0 }
	if id, ok := pl.best(nonvoters, func(id string) bool { return newZone(id) && pl.eligible(id) }); ok {
		pl.add(Promote, id, "zone "+pl.zone(id)+" has no voter")
		pl.add(Demote, victim, "zone "+pl.zone(victim)+" has another voter")
		promoted[id], demoted[victim] = true, true
		pl.zones[pl.zone(id)]++
		pl.zones[pl.zone(victim)]--
	} else if id, ok := pl.best(nonvoters, newZone); ok {
		staged[id] = true // wait for it to become eligible
	} else if id, ok := pl.best(pl.plainMembers(inConfig, nil), newZone); ok {
		staged[id] = true
		pl.add(AddNonvoter, id, "stage a voter for zone "+pl.zone(id))
	}
	return staged
}

func (pl *planner) add(kind ChangeKind, id, reason string) {
	pl.changes = append(pl.changes, Change{Kind: kind, ID: id, Reason: reason})
}

func (pl *planner) zone(id string) string { return pl.cands[id].Zone }

// alive reports whether the member is up now (restarting ones are away).
func (pl *planner) alive(id string) bool { return pl.cands[id].Alive }

// reaped reports whether a down member has been down too long to count.
func (pl *planner) reaped(c Candidate) bool {
	return !c.Alive && !c.Restarting && !c.DownSince.IsZero() && pl.now.Sub(c.DownSince) >= pl.p.ReapAfter
}

// counted is how many members the target is computed from.
func (pl *planner) counted() int {
	n := 0
	for _, c := range pl.cands {
		if !pl.reaped(c) {
			n++
		}
	}
	if _, ok := pl.cands[pl.leader]; !ok && pl.leader != "" {
		n++
	}
	return n
}

// failed reports whether a member has been dead for DeadGrace without
// having announced a restart. The leader never has.
func (pl *planner) failed(id string) bool {
	c := pl.cands[id]
	return id != pl.leader && !c.Alive && !c.Restarting && pl.now.Sub(c.DeadSince) >= pl.p.DeadGrace
}

func (pl *planner) deadFor(id string) string {
	return fmt.Sprintf("dead for %s", pl.now.Sub(pl.cands[id].DeadSince).Round(time.Millisecond))
}

// removeReason says why a server should leave the configuration now, or
// "". Failed voters are handled by the replacement rule instead.
func (pl *planner) removeReason(s Server) string {
	if s.ID == pl.leader {
		return ""
	}
	c, ok := pl.cands[s.ID]
	switch {
	case !ok:
		return "not a member"
	case pl.reaped(c):
		return fmt.Sprintf("down for %s", pl.now.Sub(c.DownSince).Round(time.Second))
	case !s.Voter && pl.failed(s.ID):
		return pl.deadFor(s.ID)
	}
	return ""
}

// eligible reports whether a member may become a voter now: alive,
// answering, stable and caught up.
func (pl *planner) eligible(id string) bool {
	c, ok := pl.cands[id]
	if !ok || !c.Alive || !c.Reachable || pl.now.Sub(c.AliveSince) < pl.p.StableFor {
		return false
	}
	return c.AppliedIndex >= pl.commitIndex || pl.commitIndex-c.AppliedIndex <= pl.p.MaxLag
}

// plainMembers lists alive members outside the configuration (and not in
// skip), by ID.
func (pl *planner) plainMembers(inConfig, skip map[string]bool) []string {
	var out []string
	for id, c := range pl.cands {
		if c.Alive && !inConfig[id] && !skip[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// bestIn is best, but a member of zone wins over one outside it.
func (pl *planner) bestIn(ids []string, zone string, ok func(string) bool) (string, bool) {
	if id, found := pl.best(ids, func(id string) bool { return pl.zone(id) == zone && ok(id) }); found {
		return id, true
	}
	return pl.best(ids, ok)
}

// best returns the member of ids that ok accepts and that is the best
// voter: in the emptiest zone, in a zone that lost a member, most caught
// up, alive longest, lowest ID.
func (pl *planner) best(ids []string, ok func(string) bool) (string, bool) {
	return pick(ids, ok, func(a, b string) int {
		ca, cb := pl.cands[a], pl.cands[b]
		return cmp.Or(
			cmp.Compare(pl.zones[ca.Zone], pl.zones[cb.Zone]),
			compareBool(pl.lostZones[ca.Zone], pl.lostZones[cb.Zone]),
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
