package state

import (
	"time"

	"github.com/shoal-project/shoal/api"
)

// validDrainDeadline refuses a drain deadline that is negative or comes
// without availability drain.
func validDrainDeadline(p api.UpdateNodePayload) *api.Error {
	switch {
	case p.DrainDeadline < 0:
		return api.Errorf(api.CodeInvalid, "update node: drain deadline %s is negative", p.DrainDeadline.Std())
	case p.DrainDeadline > 0 && p.Availability != api.AvailabilityDrain:
		return api.Errorf(api.CodeInvalid, "update node: a drain deadline needs availability drain")
	}
	return nil
}

// drainDeadline is the node's drain deadline after an update that sets
// its availability: the command's time plus the payload's deadline for a
// drain that has one, else none. Every availability change, a new drain
// included, replaces the previous deadline.
func drainDeadline(p api.UpdateNodePayload, at time.Time) time.Time {
	if p.Availability != api.AvailabilityDrain || p.DrainDeadline <= 0 {
		return time.Time{}
	}
	return at.Add(p.DrainDeadline.Std())
}
