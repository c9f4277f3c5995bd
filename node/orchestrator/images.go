package orchestrator

import (
	"fmt"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// imageProblem says why a task's image cannot be had anywhere, or "" if a
// node can get it: from a peer that holds it (registry-free sharing), or
// from the registry its reference names. Image records are looked up by
// the normalized reference, so "local/busybox:1" finds the record
// "docker.io/local/busybox:1"; whether a registry is named is read from
// the reference as the spec writes it.
func imageProblem(v *state.View, spec *api.ServiceSpec) string {
	if spec.Runtime != api.RuntimeContainerd || spec.Image == "" {
		return ""
	}
	ref, err := api.NormalizeImageRef(spec.Image)
	if err != nil {
		return err.Error()
	}
	if img, ok := v.Image(ref); ok && len(img.Holders) > 0 {
		return ""
	}
	if api.NamesRegistry(spec.Image) {
		return ""
	}
	return fmt.Sprintf("image %s is held by no node and names no registry (load it with `shoal image load`, or push it to a registry)", spec.Image)
}

// withoutImage splits out the tasks whose image no node can get, and
// returns pending-assignments that explain it (only where the explanation
// changed).
func withoutImage(v *state.View, tasks []*api.Task) (ok []*api.Task, unplaced []api.TaskAssignment) {
	for _, t := range tasks {
		why := imageProblem(v, &t.Spec)
		if why == "" {
			ok = append(ok, t)
			continue
		}
		if t.Status.State != api.TaskPending || t.Status.Err != why {
			unplaced = append(unplaced, api.TaskAssignment{TaskID: t.ID, Err: why})
		}
	}
	return ok, unplaced
}
