package scheduler

import (
	"strings"

	"github.com/shoal-project/shoal/api"
)

// Constraint keys a placement constraint may test.
const (
	KeyNodeID       = "node.id"
	KeyNodeName     = "node.name"
	KeyNodeHostname = "node.hostname" // an alias of node.name, as in Swarm
	KeyAvailability = "node.availability"
	KeyRuntime      = "node.runtime"
	// LabelPrefix starts a key that tests a node label: node.labels.zone.
	LabelPrefix = "node.labels."
)

// Constraint operators.
const (
	OpEq = "=="
	OpNe = "!="
)

// Constraint is one parsed placement constraint, such as
// node.labels.zone==a.
type Constraint struct {
	Key   string
	Op    string
	Value string
}

// ParseConstraint parses an expression "KEY==VALUE" or "KEY!=VALUE". Keys
// are node.id, node.name (or node.hostname), node.availability,
// node.runtime and node.labels.<label>. Spaces around the key and value are
// ignored; the value may not be empty.
func ParseConstraint(expr string) (Constraint, error) {
	s := strings.TrimSpace(expr)
	if s == "" {
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: empty expression", expr)
	}
	i, op := operatorIndex(s)
	if i < 0 {
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: no operator (want == or !=)", expr)
	}
	c := Constraint{Key: strings.TrimSpace(s[:i]), Op: op, Value: strings.TrimSpace(s[i+2:])}
	if j, _ := operatorIndex(c.Value); j >= 0 {
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: more than one operator", expr)
	}
	if c.Key == "" {
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: missing key", expr)
	}
	if c.Value == "" {
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: empty value", expr)
	}
	if strings.ContainsAny(c.Key, " \t\r\n=!<>") {
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: bad key %q", expr, c.Key)
	}
	if strings.ContainsAny(c.Value, "\r\n") {
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: line break in value", expr)
	}
	switch {
	case c.Key == KeyNodeID, c.Key == KeyNodeName, c.Key == KeyNodeHostname, c.Key == KeyRuntime:
	case c.Key == KeyAvailability:
		switch api.Availability(strings.ToLower(c.Value)) {
		case api.AvailabilityActive, api.AvailabilityPause, api.AvailabilityDrain:
		default:
			return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: availability must be active, pause or drain", expr)
		}
	case strings.HasPrefix(c.Key, LabelPrefix):
		if len(c.Key) == len(LabelPrefix) {
			return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: missing label name after %s", expr, LabelPrefix)
		}
	case c.Key == "node.role":
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: node.role is not supported (every node runs tasks)", expr)
	default:
		return Constraint{}, api.Errorf(api.CodeInvalid, "invalid constraint %q: unknown key %q (want node.id, node.name, node.hostname, node.availability, node.runtime or node.labels.<name>)", expr, c.Key)
	}
	return c, nil
}

// operatorIndex finds the first == or != in s.
func operatorIndex(s string) (int, string) {
	eq, ne := strings.Index(s, OpEq), strings.Index(s, OpNe)
	switch {
	case eq < 0 && ne < 0:
		return -1, ""
	case ne < 0 || (eq >= 0 && eq < ne):
		return eq, OpEq
	default:
		return ne, OpNe
	}
}

// ParseConstraints parses every expression; the first bad one is the error.
func ParseConstraints(exprs []string) ([]Constraint, error) {
	if len(exprs) == 0 {
		return nil, nil
	}
	out := make([]Constraint, 0, len(exprs))
	for _, e := range exprs {
		c, err := ParseConstraint(e)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Match reports whether node n satisfies c. Values compare without regard
// to case, as in Swarm, except node IDs (peer IDs are case-sensitive). A
// missing label never equals a value, so node.labels.x!=v matches it.
func (c Constraint) Match(n *api.Node) bool {
	if n == nil {
		return false
	}
	var eq bool
	switch {
	case c.Key == KeyNodeID:
		eq = n.ID == c.Value
	case c.Key == KeyNodeName, c.Key == KeyNodeHostname:
		eq = strings.EqualFold(n.Name, c.Value)
	case c.Key == KeyAvailability:
		eq = strings.EqualFold(string(availability(n)), c.Value)
	case c.Key == KeyRuntime:
		for _, r := range n.Runtimes {
			if strings.EqualFold(r, c.Value) {
				eq = true
				break
			}
		}
	case strings.HasPrefix(c.Key, LabelPrefix) && len(c.Key) > len(LabelPrefix):
		v, ok := n.Labels[c.Key[len(LabelPrefix):]]
		eq = ok && strings.EqualFold(v, c.Value)
	default:
		return false
	}
	switch c.Op {
	case OpEq:
		return eq
	case OpNe:
		return !eq
	}
	return false
}

// String returns the constraint as an expression, e.g. node.labels.zone==a.
func (c Constraint) String() string { return c.Key + c.Op + c.Value }

// ParsePreference reads a placement preference, "spread=node.labels.zone"
// or just "node.labels.zone", and returns the label name ("zone").
func ParsePreference(spec string) (labelKey string, err error) {
	s := strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(s, "spread="); ok {
		s = strings.TrimSpace(rest)
	} else if strings.Contains(s, "=") {
		return "", api.Errorf(api.CodeInvalid, "invalid placement preference %q: only spread=node.labels.<name> is supported", spec)
	}
	key, ok := strings.CutPrefix(s, LabelPrefix)
	if !ok {
		return "", api.Errorf(api.CodeInvalid, "invalid placement preference %q: want spread=node.labels.<name>", spec)
	}
	if key == "" || strings.ContainsAny(key, " \t\r\n=!") {
		return "", api.Errorf(api.CodeInvalid, "invalid placement preference %q: bad label name %q", spec, key)
	}
	return key, nil
}

// availability is n's availability; an unset one counts as active.
func availability(n *api.Node) api.Availability {
	if n.Availability == "" {
		return api.AvailabilityActive
	}
	return n.Availability
}
