package scheduler

import (
	"math"
	"strconv"

	"github.com/shoal-project/shoal/api"
)

// group is a set of pending tasks of one service that share the
// scheduling-relevant part of their spec, so they can be placed together.
type group struct {
	serviceID string
	runtime   string
	// protocol is the least node protocol that runs the spec as written
	// (api.SpecProtocol), worked out on first need: only a node older
	// than this build asks (protocolOf).
	protocol   int
	spec       *api.ServiceSpec
	res        api.Resources
	cons       []api.Constraint
	prefs      []string // label names, outermost first
	ports      []portKey
	maxPerNode int64
	staticSig  string // runtime and constraints: keys the eligibility cache
	prefSig    string // label names: keys the preference-tree cache
	tasks      []*api.Task
	svcNodes   map[int32]int64 // the service's task count per node, set by place
	err        string          // the spec cannot be scheduled: why
}

// groupTasks groups pending tasks by service and scheduling spec, in order
// of first appearance. Nil tasks and repeated IDs are skipped.
func groupTasks(pending []*api.Task) []*group {
	var groups []*group
	byKey := map[string]*group{}
	seen := make(map[string]struct{}, len(pending))
	var buf []byte
	for _, t := range pending {
		if t == nil {
			continue
		}
		if _, dup := seen[t.ID]; dup {
			continue
		}
		seen[t.ID] = struct{}{}
		buf = fingerprint(buf[:0], t)
		g := byKey[string(buf)]
		if g == nil {
			g = newGroup(t)
			byKey[string(buf)] = g
			groups = append(groups, g)
		}
		g.tasks = append(g.tasks, t)
	}
	return groups
}

// fingerprint appends the fields of t that decide where it may go.
func fingerprint(b []byte, t *api.Task) []byte {
	sp := &t.Spec
	b = append(b, t.ServiceID...)
	b = append(b, 0)
	b = append(b, sp.Runtime...)
	b = append(b, 0)
	b = appendProtocolFields(b, sp)
	b = strconv.AppendInt(b, sp.Reservations.NanoCPUs, 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, sp.Reservations.MemoryBytes, 10)
	b = append(b, 0)
	b = strconv.AppendUint(b, sp.MaxPerNode, 10)
	for _, c := range sp.Constraints {
		b = append(b, 1)
		b = append(b, c.Key...)
		b = append(b, c.Op...)
		b = append(b, c.Value...)
	}
	for _, p := range sp.Preferences {
		b = append(b, 2)
		b = append(b, p.Spread...)
	}
	for _, p := range sp.Ports {
		b = append(b, 3)
		b = strconv.AppendUint(b, uint64(p.Port), 10)
		b = append(b, '/')
		b = append(b, p.Protocol...)
		b = append(b, '/')
		b = append(b, p.Mode...)
	}
	return b
}

func newGroup(t *api.Task) *group {
	sp := &t.Spec
	g := &group{serviceID: t.ServiceID, runtime: sp.Runtime, res: sp.Reservations, ports: normPorts(sp.Ports), spec: sp}
	g.maxPerNode = int64(min(sp.MaxPerNode, math.MaxInt64))
	g.cons = sp.Constraints
	for _, p := range sp.Preferences {
		key, err := ParsePreference(p.Spread)
		if err != nil {
			g.err = err.Error()
			return g
		}
		g.prefs = append(g.prefs, key)
	}
	sig := []byte(g.runtime)
	sig = append(sig, 0)
	sig = appendProtocolFields(sig, sp)
	for _, c := range g.cons {
		sig = append(sig, 0)
		sig = append(sig, c.Key...)
		sig = append(sig, c.Op...)
		sig = append(sig, c.Value...)
	}
	g.staticSig = string(sig)
	sig = sig[:0]
	for _, p := range g.prefs {
		sig = append(sig, p...)
		sig = append(sig, 0)
	}
	g.prefSig = string(sig)
	return g
}

func appendInt(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }

// appendProtocolFields appends, cheaply, the spec fields api.SpecProtocol
// depends on, so that tasks that differ in them never share a group or an
// eligibility cache entry.
func appendProtocolFields(b []byte, sp *api.ServiceSpec) []byte {
	b = append(b, sp.User...)
	b = append(b, 0)
	b = append(b, sp.Seccomp...)
	b = append(b, 0)
	b = append(b, sp.Network...)
	b = append(b, 0)
	for _, p := range sp.Ports {
		b = append(b, p.Name...)
		b = strconv.AppendUint(b, uint64(p.TargetPort), 10)
		b = append(b, 1)
	}
	for _, s := range sp.Secrets {
		b = append(b, s...)
		b = append(b, 1)
	}
	return append(b, 0)
}

// protocolOf is the least protocol a node needs to run g's tasks.
func (g *group) protocolOf() int {
	if g.protocol == 0 {
		g.protocol = api.SpecProtocol(g.spec)
	}
	return g.protocol
}
