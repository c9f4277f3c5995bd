package scheduler

import (
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestParseConstraint(t *testing.T) {
	ok := []struct {
		in   string
		want Constraint
	}{
		{"node.labels.zone==a", Constraint{"node.labels.zone", "==", "a"}},
		{"  node.labels.zone  !=  b c ", Constraint{"node.labels.zone", "!=", "b c"}},
		{"node.name!=n3", Constraint{"node.name", "!=", "n3"}},
		{"node.hostname==n3", Constraint{"node.hostname", "==", "n3"}},
		{"node.id==12D3KooWabc", Constraint{"node.id", "==", "12D3KooWabc"}},
		{"node.availability==Active", Constraint{"node.availability", "==", "Active"}},
		{"node.runtime==process", Constraint{"node.runtime", "==", "process"}},
		{"node.labels.a===", Constraint{"node.labels.a", "==", "="}},
	}
	for _, c := range ok {
		got, err := ParseConstraint(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseConstraint(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, msg string }{
		{"", "empty expression"},
		{"node.labels.zone=a", "no operator"},
		{"node.labels.zone==", "empty value"},
		{"==a", "missing key"},
		{"node.labels.zone==a==b", "more than one operator"},
		{"node.labels.zone==a!=b", "more than one operator"},
		{"node.labels.==a", "missing label name"},
		{"node.role==manager", "node.role is not supported"},
		{"node.platform.os==linux", "unknown key"},
		{"node.availability==busy", "availability must be"},
		{"node labels==a", "bad key"},
		{"node.labels.x==a\nb", "line break"},
	}
	for _, c := range bad {
		_, err := ParseConstraint(c.in)
		if err == nil {
			t.Errorf("ParseConstraint(%q) succeeded, want error %q", c.in, c.msg)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.msg) || strings.Contains(msg, "\n") {
			t.Errorf("ParseConstraint(%q) error %q, want one line containing %q", c.in, msg, c.msg)
		}
		if !strings.Contains(msg, strings.TrimSpace(strings.ReplaceAll(c.in, "\n", `\n`))) {
			t.Errorf("error %q does not name the expression %q", msg, c.in)
		}
		if api.CodeOf(err) != api.CodeInvalid {
			t.Errorf("ParseConstraint(%q) code %v, want invalid", c.in, api.CodeOf(err))
		}
	}
}

func TestParseConstraints(t *testing.T) {
	cs, err := ParseConstraints([]string{"node.labels.zone==a", "node.name!=n1"})
	if err != nil || len(cs) != 2 || cs[1].String() != "node.name!=n1" {
		t.Fatalf("got %v, %v", cs, err)
	}
	if _, err := ParseConstraints([]string{"node.labels.zone==a", "bogus"}); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("want error naming bogus, got %v", err)
	}
	if cs, err := ParseConstraints(nil); cs != nil || err != nil {
		t.Fatalf("nil input: %v, %v", cs, err)
	}
}

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
		con, err := ParseConstraint(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := con.Match(n); got != c.want {
			t.Errorf("%s on node: got %v want %v", c.expr, got, c.want)
		}
	}
	if (Constraint{"node.labels.zone", "==", "a"}).Match(nil) {
		t.Error("matched a nil node")
	}
	if (Constraint{"node.bogus", "!=", "a"}).Match(n) || (Constraint{"node.labels.zone", "<", "a"}).Match(n) {
		t.Error("a hand-built constraint with an unknown key or operator matched")
	}
	// An unset availability counts as active.
	if !(Constraint{KeyAvailability, OpEq, "active"}).Match(&api.Node{}) {
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

func FuzzParseConstraint(f *testing.F) {
	for _, s := range []string{"node.labels.zone==a", "node.name!=n3", "node.id==x", "node.availability==active",
		"node.runtime==process", "a==b==c", "==", "!=", "node.labels.==", "node.labels.a!==", " node.labels.k == v ", "\x00==\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConstraint(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error for %q: %q", s, err)
			}
			return
		}
		if c.Value == "" || c.Key == "" || (c.Op != OpEq && c.Op != OpNe) {
			t.Fatalf("accepted %q as %+v", s, c)
		}
		again, err := ParseConstraint(c.String())
		if err != nil || again != c {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, c, c.String(), again, err)
		}
		c.Match(&api.Node{Labels: map[string]string{"a": "b"}})
	})
}
