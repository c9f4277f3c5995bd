package state

import (
	"slices"

	"github.com/shoal-project/shoal/api"
)

// CommandTypes lists every command type the FSM applies, sorted.
func CommandTypes() []api.CommandType {
	out := make([]api.CommandType, 0, len(handlers))
	for t := range handlers {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
