package scheduler

import (
	"strings"

	"github.com/shoal-project/shoal/api"
)

// MatchConstraint reports whether node n satisfies c, a constraint
// api.ParseConstraint produced. Values compare without regard to case, as
// in Swarm, except node IDs (peer IDs are case-sensitive). A missing label
// never equals a value, so node.labels.x!=v matches it.
func MatchConstraint(c api.Constraint, n *api.Node) bool {
	if n == nil {
		return false
	}
	var eq bool
	switch {
	case c.Key == api.ConstraintNodeID:
		eq = n.ID == c.Value
	case c.Key == api.ConstraintNodeName, c.Key == api.ConstraintNodeHostname:
		eq = strings.EqualFold(n.Name, c.Value)
	case c.Key == api.ConstraintAvailability:
		eq = strings.EqualFold(string(availability(n)), c.Value)
	case c.Key == api.ConstraintRuntime:
		for _, r := range n.Runtimes {
			if strings.EqualFold(r, c.Value) {
				eq = true
				break
			}
		}
	case strings.HasPrefix(c.Key, api.ConstraintLabelPrefix) && len(c.Key) > len(api.ConstraintLabelPrefix):
		v, ok := n.Labels[c.Key[len(api.ConstraintLabelPrefix):]]
		eq = ok && strings.EqualFold(v, c.Value)
	default:
		return false
	}
	switch c.Op {
	case api.OpEq:
		return eq
	case api.OpNe:
		return !eq
	}
	return false
}

// ParsePreference reads a placement preference, "spread=node.labels.zone"
// or just "node.labels.zone", and returns the label name ("zone").
func ParsePreference(spec string) (labelKey string, err error) {
	s := strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(s, "spread="); ok {
		s = strings.TrimSpace(rest)
	} else if strings.Contains(s, "=") {
		return "", api.Errorf(api.CodeInvalid, "invalid placement preference %q: only spread=node.labels.<name> is supported", spec)
	}
	key, ok := strings.CutPrefix(s, api.ConstraintLabelPrefix)
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
