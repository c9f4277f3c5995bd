package api

import (
	"encoding/json"
	"strings"
	"testing"
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
		{"engine.labels.os==linux", "engine labels are not supported"},
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
		if CodeOf(err) != CodeInvalid {
			t.Errorf("ParseConstraint(%q) code %v, want invalid", c.in, CodeOf(err))
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

// TestConstraintJSON checks that a spec's constraints travel as text and
// are parsed when the spec is decoded, with a one-line error naming a bad
// one.
func TestConstraintJSON(t *testing.T) {
	var s ServiceSpec
	if err := json.Unmarshal([]byte(`{"name":"web","constraints":[" node.labels.zone == a ","node.name!=n1"]}`), &s); err != nil {
		t.Fatal(err)
	}
	want := []Constraint{{"node.labels.zone", OpEq, "a"}, {"node.name", OpNe, "n1"}}
	if len(s.Constraints) != 2 || s.Constraints[0] != want[0] || s.Constraints[1] != want[1] {
		t.Fatalf("decoded %+v, want %+v", s.Constraints, want)
	}
	b, _ := json.Marshal(ServiceSpec{Name: "web", Constraints: want})
	if !strings.Contains(string(b), `"constraints":["node.labels.zone==a","node.name!=n1"]`) {
		t.Fatalf("encoded %s", b)
	}
	err := json.Unmarshal([]byte(`{"constraints":["node.role==manager"]}`), &s)
	if err == nil || !strings.Contains(err.Error(), `invalid constraint "node.role==manager": node.role is not supported`) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("decoding node.role: %v", err)
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
		txt, _ := c.MarshalText()
		var again Constraint
		if err := again.UnmarshalText(txt); err != nil || again != c {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, c, txt, again, err)
		}
	})
}
