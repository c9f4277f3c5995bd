package raft

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestTargetVoters(t *testing.T) {
	def := VoterPolicy{}
	cases := []struct {
		nodes int
		p     VoterPolicy
		want  int
	}{
		{0, def, 0}, {1, def, 1}, {2, def, 1}, {3, def, 3}, {4, def, 3}, {6, def, 3},
		{7, def, 5}, {100, def, 5},
		{5, VoterPolicy{LargeAt: 5}, 5},
		{4, VoterPolicy{BaseVoters: 4}, 3},
		{9, VoterPolicy{LargeVoters: 7}, 7},
		{6, VoterPolicy{LargeVoters: 7, LargeAt: 6}, 5},
	}
	for _, c := range cases {
		if got := TargetVoters(c.nodes, 0, c.p); got != c.want {
			t.Errorf("TargetVoters(%d, %+v) = %d, want %d", c.nodes, c.p, got, c.want)
		}
	}
	// Hysteresis: five voters stay five until the cluster falls below six nodes.
	for _, c := range []struct{ nodes, current, want int }{{6, 5, 5}, {6, 3, 3}, {5, 5, 3}, {7, 3, 5}} {
		if got := TargetVoters(c.nodes, c.current, def); got != c.want {
			t.Errorf("TargetVoters(%d nodes, %d voters) = %d, want %d", c.nodes, c.current, got, c.want)
		}
	}
}

var planNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

const planCommit = 1000

// up is an alive, stable, caught-up member.
func up(id, zone string) Candidate {
	return Candidate{ID: id, Alive: true, Reachable: true, AliveSince: planNow.Add(-time.Minute), Zone: zone, AppliedIndex: planCommit}
}

// down is a member dead for d.
func down(id string, d time.Duration) Candidate {
	return Candidate{ID: id, DeadSince: planNow.Add(-d), AliveSince: planNow.Add(-time.Hour), AppliedIndex: 10}
}

// silent is a member presumed alive that did not answer the leader.
func silent(id string) Candidate {
	c := up(id, "")
	c.Reachable = false
	return c
}

func voter(id string) Server    { return Server{ID: id, Voter: true} }
func nonvoter(id string) Server { return Server{ID: id} }

func TestPlanVoters(t *testing.T) {
	fresh := up("b", "")
	fresh.AliveSince = planNow.Add(-time.Second)
	lagging := up("b", "")
	lagging.AppliedIndex = planCommit - 251
	nearly := up("b", "")
	nearly.AppliedIndex = planCommit - 250
	slowLeader := up("L", "")
	slowLeader.AppliedIndex = 0

	restarting := down("c", time.Minute)
	restarting.Restarting = true
	gone := down("c", 25*time.Hour)
	gone.DownSince = gone.DeadSince
	downFor := func(id, zone string, d time.Duration) Candidate {
		c := down(id, d)
		c.Zone, c.DownSince = zone, c.DeadSince
		return c
	}
	stable := VoterPolicy{StableFor: 2 * time.Second}

	cases := []struct {
		name    string
		policy  VoterPolicy
		servers []Server
		cands   []Candidate
		want    []Change
	}{
		{"single node", VoterPolicy{}, []Server{voter("L")}, []Candidate{up("L", "")}, nil},
		{"two nodes: one voter and a standby", VoterPolicy{}, []Server{voter("L")}, []Candidate{up("L", ""), up("b", "")},
			[]Change{{AddNonvoter, "b", ""}}},
		{"third node: standby promoted, joiner added as voter", VoterPolicy{}, []Server{voter("L"), nonvoter("b")},
			[]Candidate{up("L", ""), up("b", ""), up("c", "")},
			[]Change{{Promote, "b", ""}, {AddVoter, "c", ""}}},
		{"two joiners at once: both added as voters", VoterPolicy{}, []Server{voter("L")}, []Candidate{up("L", ""), up("b", ""), up("c", "")},
			[]Change{{AddVoter, "b", ""}, {AddVoter, "c", ""}}},
		{"members that do not answer are never added as voters", VoterPolicy{}, []Server{voter("L")},
			[]Candidate{up("L", ""), silent("b"), silent("c")},
			[]Change{{AddNonvoter, "b", ""}, {AddNonvoter, "c", ""}}},
		{"one voter never grows to two", VoterPolicy{}, []Server{voter("L"), nonvoter("b")},
			[]Candidate{up("L", ""), up("b", ""), downFor("c", "", time.Minute)}, nil},
		{"promote caught-up nonvoters", VoterPolicy{}, []Server{voter("L"), nonvoter("b"), nonvoter("c")}, []Candidate{up("L", ""), up("b", ""), up("c", "")},
			[]Change{{Promote, "b", ""}, {Promote, "c", ""}}},
		{"not stable yet", stable, []Server{voter("L"), nonvoter("b"), voter("c")}, []Candidate{up("L", ""), fresh, up("c", "")}, nil},
		{"lagging", VoterPolicy{}, []Server{voter("L"), nonvoter("b"), voter("c")}, []Candidate{up("L", ""), lagging, up("c", "")}, nil},
		{"lag at the limit", VoterPolicy{}, []Server{voter("L"), nonvoter("b"), voter("c")}, []Candidate{up("L", ""), nearly, up("c", "")},
			[]Change{{Promote, "b", ""}}},
		{"four nodes: three voters and a standby", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c")}, []Candidate{up("L", ""), up("b", ""), up("c", ""), up("d", "")},
			[]Change{{AddNonvoter, "d", ""}}},
		{"dead within grace: wait", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c"), nonvoter("d")},
			[]Candidate{up("L", ""), up("b", ""), down("c", 2*time.Second), up("d", "")}, nil},
		{"dead past grace: promote the standby, then remove", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c"), nonvoter("d")},
			[]Candidate{up("L", ""), up("b", ""), down("c", 3*time.Second), up("d", "")},
			[]Change{{Promote, "d", ""}, {Remove, "c", ""}}},
		{"dead past grace without a standby: stage one, keep the dead voter", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", ""), up("b", ""), down("c", 3*time.Second), up("d", "")},
			[]Change{{AddNonvoter, "d", ""}}},
		{"dead voter of three without a spare stays", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", ""), up("b", ""), downFor("c", "", time.Minute)}, nil},
		{"restarting voter is not replaced", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c"), nonvoter("d")},
			[]Candidate{up("L", ""), up("b", ""), restarting, up("d", "")}, nil},
		{"dead voter of five: the set stays at five", VoterPolicy{},
			[]Server{voter("L"), voter("b"), voter("c"), voter("d"), voter("e")},
			[]Candidate{up("L", ""), up("b", ""), up("c", ""), up("d", ""), downFor("e", "", time.Minute), up("f", ""), up("g", "")},
			[]Change{{AddNonvoter, "f", ""}, {AddNonvoter, "g", ""}}},
		{"replacement comes from the dead voter's zone", VoterPolicy{},
			[]Server{voter("L"), voter("b"), voter("c"), voter("d"), voter("e"), nonvoter("f"), nonvoter("g")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), downFor("d", "b", time.Minute), up("e", "c"), up("f", "c"), up("g", "b")},
			[]Change{{Promote, "g", ""}, {Remove, "d", ""}}},
		{"reaped node stops counting", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", ""), up("b", ""), gone, up("d", "")},
			[]Change{{Remove, "c", ""}, {AddNonvoter, "d", ""}}},
		{"server no longer a member", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c"), nonvoter("x")}, []Candidate{up("L", ""), up("b", ""), up("c", "")},
			[]Change{{Remove, "x", ""}}},
		{"leader is never removed or demoted", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c"), voter("d"), voter("e")},
			[]Candidate{down("L", time.Hour), up("b", ""), up("c", ""), up("d", "")},
			[]Change{{Remove, "e", ""}, {Demote, "b", ""}}},
		{"lagging leader is not demoted", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c"), voter("d"), voter("e")},
			[]Candidate{slowLeader, up("b", ""), up("c", ""), up("d", ""), up("e", "")},
			[]Change{{Demote, "b", ""}, {Demote, "c", ""}}},
		{"seven nodes: grow to five", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", ""), up("b", ""), up("c", ""), up("d", ""), up("e", ""), up("f", ""), up("g", "")},
			[]Change{{AddNonvoter, "d", ""}, {AddNonvoter, "e", ""}, {AddNonvoter, "f", ""}}},
		{"unneeded nonvoter removed", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c"), nonvoter("d"), nonvoter("e")},
			[]Candidate{up("L", ""), up("b", ""), up("c", ""), up("d", ""), up("e", "")},
			[]Change{{Remove, "e", ""}}},
		{"promotion prefers new zones", VoterPolicy{}, []Server{voter("L"), nonvoter("b"), nonvoter("c"), nonvoter("d")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), up("d", "c")},
			[]Change{{Promote, "c", ""}, {Promote, "d", ""}}},
		{"additions prefer new zones", VoterPolicy{}, []Server{voter("L")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "a"), up("d", "b"), up("e", "b"), up("f", "c")},
			[]Change{{AddVoter, "d", ""}, {AddVoter, "f", ""}, {AddNonvoter, "b", ""}}},
		{"zone swap", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c"), nonvoter("d")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), up("d", "c")},
			[]Change{{Promote, "d", ""}, {Demote, "b", ""}}},
		{"zone swap stages a plain member", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), up("d", "c")},
			[]Change{{AddNonvoter, "d", ""}}},
		{"staged nonvoter waits until stable", stable, []Server{voter("L"), voter("b"), voter("c"), nonvoter("d")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), {ID: "d", Alive: true, Reachable: true, AliveSince: planNow, Zone: "c", AppliedIndex: planCommit}},
			nil},
		{"zones already spread", VoterPolicy{}, []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", "a"), up("b", "b"), up("c", "c"), up("d", "a")},
			[]Change{{AddNonvoter, "d", ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PlanVoters(planNow, "L", c.servers, c.cands, planCommit, c.policy)
			if !sameChanges(got, c.want) {
				t.Fatalf("plan = %v, want %v", got, c.want)
			}
			for _, ch := range got {
				if ch.Reason == "" {
					t.Fatalf("change %v has no reason", ch)
				}
			}
		})
	}
}

// sameChanges compares kinds and IDs in order, ignoring reasons.
func sameChanges(got, want []Change) bool {
	return slices.EqualFunc(got, want, func(a, b Change) bool { return a.Kind == b.Kind && a.ID == b.ID })
}

func TestPlanVotersIsDeterministic(t *testing.T) {
	servers := []Server{voter("L"), voter("b"), nonvoter("c"), nonvoter("d"), voter("x")}
	cands := []Candidate{up("L", "a"), up("b", "a"), up("c", "b"), up("d", "b"), up("e", "c"), up("f", "c"), up("g", "d"), down("x", time.Minute)}
	want := PlanVoters(planNow, "L", servers, cands, planCommit, VoterPolicy{})
	if len(want) == 0 {
		t.Fatal("expected some changes")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		s, c := slices.Clone(servers), slices.Clone(cands)
		r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		r.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
		if got := PlanVoters(planNow, "L", s, c, planCommit, VoterPolicy{}); !slices.Equal(got, want) {
			t.Fatalf("shuffled input gave %v, want %v", got, want)
		}
	}
}

// TestPlanVotersConverges applies plans to a simulated configuration until
// no change is left, and checks the end state.
func TestPlanVotersConverges(t *testing.T) {
	cands := []Candidate{up("L", "a"), up("b", "a"), up("c", "a"), up("d", "b"), up("e", "b"), up("f", "c"), up("g", "c"), up("h", "d")}
	cfg := map[string]bool{"L": true} // id -> voter
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatalf("no fixed point after 10 rounds: %v", cfg)
		}
		var servers []Server
		for id, v := range cfg {
			servers = append(servers, Server{ID: id, Voter: v})
		}
		plan := PlanVoters(planNow, "L", servers, cands, planCommit, VoterPolicy{})
		if len(plan) == 0 {
			break
		}
		for _, ch := range plan {
			switch ch.Kind {
			case AddNonvoter, Demote:
				cfg[ch.ID] = false
			case Promote, AddVoter:
				cfg[ch.ID] = true
			case Remove:
				delete(cfg, ch.ID)
			}
		}
	}
	zones := map[string]bool{}
	standby := 0
	for id, v := range cfg {
		if !v {
			standby++
			continue
		}
		for _, c := range cands {
			if c.ID == id {
				zones[c.Zone] = true
			}
		}
	}
	if len(cfg)-standby != 5 || len(zones) != 4 || standby != 1 {
		t.Fatalf("fixed point has %d voters over %d zones and %d standbys (%v), want 5 over all 4 zones and 1 standby", len(cfg)-standby, len(zones), standby, cfg)
	}
}
