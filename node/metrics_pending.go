package node

import "strings"

// pendingReasons is the bounded label set of shoal_scheduler_pending_tasks.
// The scheduler's explanation is free text ("no suitable node: 2 down, 1
// with too little memory"); the label is the first reason it names.
var pendingReasons = []string{
	"unexplained", "no_nodes", "down", "inactive", "runtime", "memory", "cpu",
	"constraint", "port", "max_per_node", "invalid_spec", "other",
}

// pendingPhrases map the scheduler's phrases (scheduler/explain.go) to
// reasons, in the order the explanation lists them.
var pendingPhrases = []struct{ phrase, reason string }{
	{"no nodes", "no_nodes"},
	{" down", "down"},
	{"not active", "inactive"},
	{"without runtime", "runtime"},
	{"too little memory", "memory"},
	{"too little cpu", "cpu"},
	{"excluded by constraint", "constraint"},
	{"in use", "port"},
	{"at max ", "max_per_node"},
}

// pendingReason classifies a pending task's explanation.
func pendingReason(err string) string {
	if err == "" {
		return "unexplained"
	}
	rest, ok := strings.CutPrefix(err, "no suitable node")
	if !ok {
		// The task's spec could not be scheduled at all (a bad constraint).
		return "invalid_spec"
	}
	first, best := "other", len(rest)+1
	for _, p := range pendingPhrases {
		if i := strings.Index(rest, p.phrase); i >= 0 && i < best {
			first, best = p.reason, i
		}
	}
	return first
}
