package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/shoal-project/shoal/api"
)

// servicePlan is what `apply` would do to one service of a manifest:
// create it, leave it, or update it — with the fields that change, and
// the running tasks a rolling update would replace (none when only the
// replica count or the update policies change).
type servicePlan struct {
	Name     string        `json:"name"`
	Action   string        `json:"action"` // "create", "update" or "unchanged"
	Version  uint64        `json:"version,omitempty"`
	Replicas uint64        `json:"replicas,omitempty"` // create: the replicas asked for
	Changes  []fieldChange `json:"changes,omitempty"`
	// Replaced counts the running tasks an update replaces, per the
	// service's update policy.
	Replaced uint64 `json:"replaced_tasks,omitempty"`
}

// planService compares a manifest's spec with the service as stored (nil
// when it does not exist), as apply compares them (sameSpec).
func planService(spec api.ServiceSpec, cur *api.ServiceInfo) servicePlan {
	p := servicePlan{Name: spec.Name}
	if cur == nil {
		p.Action, p.Replicas = "create", spec.Replicas
		return p
	}
	p.Version = cur.Version
	want, have := normalizedPair(spec, cur.Spec)
	if sameJSON(want, have) {
		p.Action = "unchanged"
		return p
	}
	p.Action, p.Changes = "update", specDiff(have, want)
	if !bytes.Equal(api.WorkloadKey(want), api.WorkloadKey(have)) {
		p.Replaced = cur.Running
	}
	return p
}

// printPlan writes plans as `apply --dry-run` shows them.
func printPlan(w io.Writer, plans []servicePlan) {
	for _, p := range plans {
		switch p.Action {
		case "create":
			fmt.Fprintf(w, "service %s: would be created (%d replicas)\n", p.Name, p.Replicas)
		case "unchanged":
			fmt.Fprintf(w, "service %s: unchanged (version %d)\n", p.Name, p.Version)
		default:
			fmt.Fprintf(w, "service %s: would be updated from version %d\n", p.Name, p.Version)
			for _, c := range p.Changes {
				fmt.Fprintf(w, "  %s: %s -> %s\n", c.Field, orNone(c.Old), orNone(c.New))
			}
			if p.Replaced > 0 {
				fmt.Fprintf(w, "  its %d running tasks would be replaced, per its update policy\n", p.Replaced)
			} else {
				fmt.Fprintf(w, "  no task would be replaced (only the replica count or update policies change)\n")
			}
		}
	}
}

func sameJSON(a, b api.ServiceSpec) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}
