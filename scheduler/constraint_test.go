package scheduler

import (
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestConstraintMatch(t *testing.T) {
	n := &api.Node{ID: "12D3KooWabc", Name: "Node1", Labels: map[string]string{"zone": "a", "ssd": "true"},
		Runtimes: []string{"process"}, Availability: api.AvailabilityActive}
	cases := []struct {
		expr string
		want bool
	}{
		{"node.labels.zone==a", true},
		{"node.labels.zone==A", true},
		{"node.labels.zone!=a", false},
		{"node.labels.zone==b", false},
		{"node.labels.rack==r1", false},
		{"node.labels.rack!=r1", true},
		{"node.name==node1", true},
		{"node.hostname!=node1", false},
		{"node.id==12D3KooWabc", true},
		{"node.id==12d3koowabc", false},
		{"node.availability==active", true},
		{"node.availability!=drain", true},
		{"node.runtime==process", true},
		{"node.runtime==containerd", false},
		{"node.runtime!=containerd", true},
	}
	for _, c := range cases {
		con, err := api.ParseConstraint(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := MatchConstraint(con, n); got != c.want {
			t.Errorf("%s on node: got %v want %v", c.expr, got, c.want)
		}
	}
	if MatchConstraint(api.Constraint{Key: "node.labels.zone", Op: "==", Value: "a"}, nil) {
		t.Error("matched a nil node")
	}
	if MatchConstraint(api.Constraint{Key: "node.bogus", Op: "!=", Value: "a"}, n) || MatchConstraint(api.Constraint{Key: "node.labels.zone", Op: "<", Value: "a"}, n) {
		t.Error("a hand-built constraint with an unknown key or operator matched")
	}
	// An unset availability counts as active.
	if !MatchConstraint(api.Constraint{Key: api.ConstraintAvailability, Op: api.OpEq, Value: "active"}, &api.Node{}) {
		t.Error("unset availability is not active")
	}
}

func TestParsePreference(t *testing.T) {
	for in, want := range map[string]string{"spread=node.labels.zone": "zone", "node.labels.rack": "rack", " spread= node.labels.dc ": "dc"} {
		if got, err := ParsePreference(in); err != nil || got != want {
			t.Errorf("ParsePreference(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "spread=", "node.labels.", "spread=node.name", "pack=node.labels.zone", "zone", "node.labels.a b"} {
		_, err := ParsePreference(in)
		if err == nil || !strings.Contains(err.Error(), "placement preference") {
			t.Errorf("ParsePreference(%q): want error, got %v", in, err)
		}
	}
}

// mustCons parses constraint expressions for tests.
func mustCons(exprs ...string) []api.Constraint {
	cs, err := api.ParseConstraints(exprs)
	if err != nil {
		panic(err)
	}
	return cs
}
