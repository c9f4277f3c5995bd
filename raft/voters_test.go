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
		if got := TargetVoters(c.nodes, c.p); got != c.want {
			t.Errorf("TargetVoters(%d, %+v) = %d, want %d", c.nodes, c.p, got, c.want)
		}
	}
}

var planNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

const planCommit = 1000

// up is an alive, stable, caught-up member.
func up(id, zone string) Candidate {
	return Candidate{ID: id, Alive: true, AliveSince: planNow.Add(-time.Minute), Zone: zone, AppliedIndex: planCommit}
}

// down is a member dead for d.
func down(id string, d time.Duration) Candidate {
	return Candidate{ID: id, DeadSince: planNow.Add(-d), AliveSince: planNow.Add(-time.Hour), AppliedIndex: 10}
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

	cases := []struct {
		name    string
		servers []Server
		cands   []Candidate
		want    []Change
	}{
		{"single node", []Server{voter("L")}, []Candidate{up("L", "")}, nil},
		{"two nodes keep one voter", []Server{voter("L")}, []Candidate{up("L", ""), up("b", "")}, nil},
		{"third node: add nonvoters", []Server{voter("L")}, []Candidate{up("L", ""), up("b", ""), up("c", "")},
			[]Change{{AddNonvoter, "b", ""}, {AddNonvoter, "c", ""}}},
		{"promote caught-up nonvoters", []Server{voter("L"), nonvoter("b"), nonvoter("c")}, []Candidate{up("L", ""), up("b", ""), up("c", "")},
			[]Change{{Promote, "b", ""}, {Promote, "c", ""}}},
		{"not stable yet", []Server{voter("L"), nonvoter("b"), voter("c")}, []Candidate{up("L", ""), fresh, up("c", "")}, nil},
		{"lagging", []Server{voter("L"), nonvoter("b"), voter("c")}, []Candidate{up("L", ""), lagging, up("c", "")}, nil},
		{"lag at the limit", []Server{voter("L"), nonvoter("b"), voter("c")}, []Candidate{up("L", ""), nearly, up("c", "")},
			[]Change{{Promote, "b", ""}}},
		{"four nodes stay at three voters", []Server{voter("L"), voter("b"), voter("c")}, []Candidate{up("L", ""), up("b", ""), up("c", ""), up("d", "")}, nil},
		{"dead within grace: wait", []Server{voter("L"), voter("b"), voter("c")}, []Candidate{up("L", ""), up("b", ""), down("c", 2*time.Second), up("d", "")}, nil},
		{"dead past grace: remove and replace", []Server{voter("L"), voter("b"), voter("c")}, []Candidate{up("L", ""), up("b", ""), down("c", 3*time.Second), up("d", "")},
			[]Change{{Remove, "c", ""}, {AddNonvoter, "d", ""}}},
		{"dead voter of three: shrink to one", []Server{voter("L"), voter("b"), voter("c")}, []Candidate{up("L", ""), up("b", ""), down("c", time.Minute)},
			[]Change{{Remove, "c", ""}, {Demote, "b", ""}}},
		{"server no longer a member", []Server{voter("L"), voter("b"), voter("c"), nonvoter("x")}, []Candidate{up("L", ""), up("b", ""), up("c", "")},
			[]Change{{Remove, "x", ""}}},
		{"leader is never removed or demoted", []Server{voter("L"), voter("b"), voter("c"), voter("d"), voter("e")},
			[]Candidate{down("L", time.Hour), up("b", ""), up("c", ""), up("d", "")},
			[]Change{{Remove, "e", ""}, {Demote, "b", ""}}},
		{"lagging leader is not demoted", []Server{voter("L"), voter("b"), voter("c"), voter("d"), voter("e")},
			[]Candidate{slowLeader, up("b", ""), up("c", ""), up("d", ""), up("e", "")},
			[]Change{{Demote, "b", ""}, {Demote, "c", ""}}},
		{"seven nodes: grow to five", []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", ""), up("b", ""), up("c", ""), up("d", ""), up("e", ""), up("f", ""), up("g", "")},
			[]Change{{AddNonvoter, "d", ""}, {AddNonvoter, "e", ""}}},
		{"unneeded nonvoter removed", []Server{voter("L"), voter("b"), voter("c"), nonvoter("d")},
			[]Candidate{up("L", ""), up("b", ""), up("c", ""), up("d", "")},
			[]Change{{Remove, "d", ""}}},
		{"promotion prefers new zones", []Server{voter("L"), nonvoter("b"), nonvoter("c"), nonvoter("d")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), up("d", "c")},
			[]Change{{Promote, "c", ""}, {Promote, "d", ""}, {Remove, "b", ""}}},
		{"additions prefer new zones", []Server{voter("L")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "a"), up("d", "b"), up("e", "b"), up("f", "c")},
			[]Change{{AddNonvoter, "d", ""}, {AddNonvoter, "f", ""}}},
		{"zone swap", []Server{voter("L"), voter("b"), voter("c"), nonvoter("d")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), up("d", "c")},
			[]Change{{Promote, "d", ""}, {Demote, "b", ""}}},
		{"zone swap stages a plain member", []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), up("d", "c")},
			[]Change{{AddNonvoter, "d", ""}}},
		{"staged nonvoter waits until stable", []Server{voter("L"), voter("b"), voter("c"), nonvoter("d")},
			[]Candidate{up("L", "a"), up("b", "a"), up("c", "b"), {ID: "d", Alive: true, AliveSince: planNow, Zone: "c", AppliedIndex: planCommit}},
			nil},
		{"zones already spread", []Server{voter("L"), voter("b"), voter("c")},
			[]Candidate{up("L", "a"), up("b", "b"), up("c", "c"), up("d", "a")}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PlanVoters(planNow, "L", c.servers, c.cands, planCommit, VoterPolicy{})
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
			case Promote:
				cfg[ch.ID] = true
			case Remove:
				delete(cfg, ch.ID)
			}
		}
	}
	zones := map[string]bool{}
	for id, v := range cfg {
		if !v {
			t.Fatalf("nonvoter %s left at the fixed point", id)
		}
		for _, c := range cands {
			if c.ID == id {
				zones[c.Zone] = true
			}
		}
	}
	if len(cfg) != 5 || len(zones) != 4 {
		t.Fatalf("fixed point has %d voters over %d zones (%v), want 5 over all 4 zones", len(cfg), len(zones), cfg)
	}
}
