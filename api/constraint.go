package api

import (
	"fmt"
	"strings"
)

// Constraint keys a placement constraint may test. The grammar accepts
// exactly these (ConstraintKeys lists them for messages).
const (
	ConstraintNodeID       = "node.id"
	ConstraintNodeName     = "node.name"
	ConstraintNodeHostname = "node.hostname" // an alias of node.name, as in Swarm
	ConstraintAvailability = "node.availability"
	ConstraintRuntime      = "node.runtime"
	// ConstraintLabelPrefix starts a key that tests a node label (set with
	// the agent's --label): node.labels.zone.
	ConstraintLabelPrefix = "node.labels."
)

// ConstraintKeys names every key the constraint grammar accepts.
const ConstraintKeys = "node.id, node.name, node.hostname, node.availability, node.runtime or node.labels.<name>"

// Constraint operators.
const (
	OpEq = "=="
	OpNe = "!="
)

// Constraint is one parsed placement constraint, such as
// node.labels.zone==a. It reads and writes itself as that text (JSON and
// TOML included), so a spec's constraints are parsed once, when the spec
// is decoded; the scheduler matches them.
type Constraint struct {
	Key   string
	Op    string // OpEq or OpNe
	Value string
}

// ParseConstraint parses "KEY==VALUE" or "KEY!=VALUE", the one constraint
// grammar of Shoal. KEY is one of ConstraintKeys; node.availability takes
// active, pause or drain. Spaces around the key and the value are ignored;
// the value may not be empty, hold a line break or another operator.
// node.role and engine.labels.* are refused with the reason: every node
// runs tasks, and nodes have no engine labels. Errors are one line with
// code CodeInvalid.
func ParseConstraint(expr string) (Constraint, error) {
	bad := func(format string, args ...any) (Constraint, error) {
		return Constraint{}, Errorf(CodeInvalid, "invalid constraint %q: %s", expr, fmt.Sprintf(format, args...))
	}
	s := strings.TrimSpace(expr)
	if s == "" {
		return bad("empty expression")
	}
	i, op := operatorIndex(s)
	if i < 0 {
		return bad("no operator (want == or !=, e.g. node.labels.zone==a)")
	}
	c := Constraint{Key: strings.TrimSpace(s[:i]), Op: op, Value: strings.TrimSpace(s[i+2:])}
	if j, _ := operatorIndex(c.Value); j >= 0 {
		return bad("more than one operator")
	}
	if c.Key == "" {
		return bad("missing key (want %s)", ConstraintKeys)
	}
	if c.Value == "" {
		return bad("empty value")
	}
	if strings.ContainsAny(c.Key, " \t\r\n=!<>") {
		return bad("bad key %q", c.Key)
	}
	if strings.ContainsAny(c.Value, "\r\n") {
		return bad("line break in value")
	}
	switch {
	case c.Key == ConstraintNodeID, c.Key == ConstraintNodeName, c.Key == ConstraintNodeHostname, c.Key == ConstraintRuntime:
	case c.Key == ConstraintAvailability:
		switch Availability(strings.ToLower(c.Value)) {
		case AvailabilityActive, AvailabilityPause, AvailabilityDrain:
		default:
			return bad("availability must be active, pause or drain")
		}
	case strings.HasPrefix(c.Key, ConstraintLabelPrefix):
		if len(c.Key) == len(ConstraintLabelPrefix) {
			return bad("missing label name after %s", ConstraintLabelPrefix)
		}
	case c.Key == "node.role":
		return bad("node.role is not supported: every node runs tasks (want %s)", ConstraintKeys)
	case strings.HasPrefix(c.Key, "engine.labels."):
		return bad("engine labels are not supported: use node.labels.<name> (the agent's --label)")
	default:
		return bad("unknown key %q (want %s)", c.Key, ConstraintKeys)
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

// String returns the constraint as an expression, e.g. node.labels.zone==a.
func (c Constraint) String() string { return c.Key + c.Op + c.Value }

// MarshalText writes the constraint as String does.
func (c Constraint) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads a constraint with ParseConstraint.
func (c *Constraint) UnmarshalText(b []byte) error {
	v, err := ParseConstraint(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}
