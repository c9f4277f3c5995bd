package api

import "encoding/json"

// WorkloadKey encodes what a spec runs: the spec without its replica
// count, its update and rollback policies and its rebalance mode (how
// many, how to roll and where over time, not what runs). Two specs with equal keys run the same tasks: a change
// between them replaces no task. JSON with omitempty makes nil and empty
// lists equal, and sorts map keys.
func WorkloadKey(s ServiceSpec) []byte {
	s.Replicas = 0
	s.Update, s.Rollback = nil, nil
	s.Rebalance = ""
	b, err := json.Marshal(s)
	if err != nil {
		return []byte("unencodable")
	}
	return b
}
