package api

import (
	"bytes"
	"testing"
)

// TestForceUpdateReplacesTasks: a change of the force counter alone is a
// change of what runs (every task is replaced), and needs protocol 6.
func TestForceUpdateReplacesTasks(t *testing.T) {
	a := ServiceSpec{Name: "web", Command: []string{"sleep", "1"}, Replicas: 2}
	b := a
	b.ForceUpdate = 1
	if bytes.Equal(WorkloadKey(a), WorkloadKey(b)) || RunsSame(a, b) {
		t.Fatal("a forced update runs the same tasks")
	}
	raw := []byte(`{"name":"web","spec":{"name":"web","force_update":1}}`)
	if got := ProtocolOf(Command{Type: CmdUpdateService, Payload: raw}); got != 6 {
		t.Fatalf("force_update needs protocol %d, want 6", got)
	}
}
