package api

import (
	"encoding/json"
	"fmt"
)

// manifestUpdate is an update or rollback table, as UpdatePolicy.
type manifestUpdate struct {
	Parallelism     manifestCount    `manifest:"parallelism"`
	Delay           manifestDuration `manifest:"delay"`
	Order           manifestString   `manifest:"order"`
	Monitor         manifestDuration `manifest:"monitor"`
	MaxFailureRatio manifestRatio    `manifest:"max_failure_ratio"`
	FailureAction   manifestString   `manifest:"failure_action"`
	MinHealthy      manifestDuration `manifest:"min_healthy"`
	Canary          manifestCount    `manifest:"canary"`
	TrafficNew      manifestCount    `manifest:"traffic_new"`
}

// manifestUpdateKey is the update or rollback key: absent, or a table.
type manifestUpdateKey struct{ u *manifestUpdate }

func (k *manifestUpdateKey) decode(key string, v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("key %q: must be a table like { parallelism = 2, order = \"start-first\" }, not %s", key, typeName(v))
	}
	k.u = new(manifestUpdate)
	return decodeTable(key, m, k.u)
}

// policy is the UpdatePolicy the key declares, nil when absent.
func (k manifestUpdateKey) policy() *UpdatePolicy {
	u := k.u
	if u == nil {
		return nil
	}
	p := &UpdatePolicy{
		Parallelism: u.Parallelism.n, Delay: Duration(u.Delay), Order: string(u.Order),
		Monitor: Duration(u.Monitor), MaxFailureRatio: float64(u.MaxFailureRatio),
		FailureAction: string(u.FailureAction), MinHealthy: Duration(u.MinHealthy),
		Canary: u.Canary.n,
	}
	if u.TrafficNew.set {
		n := u.TrafficNew.n
		p.TrafficNew = &n
	}
	return p
}

// manifestRatio is a number from 0 to 1 (TOML float or integer, JSON
// number).
type manifestRatio float64

func (r *manifestRatio) decode(key string, v any) error {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case int64:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return fmt.Errorf("key %q: %q is not a number", key, n.String())
		}
	default:
		return fmt.Errorf("key %q: must be a number from 0 to 1, not %s", key, typeName(v))
	}
	if f < 0 || f > 1 {
		return fmt.Errorf("key %q: %v is not between 0 and 1", key, f)
	}
	*r = manifestRatio(f)
	return nil
}
