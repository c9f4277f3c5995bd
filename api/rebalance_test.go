package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestValidateRebalance(t *testing.T) {
	for _, r := range []string{"", RebalanceAuto, RebalanceOff} {
		s := validSpec()
		s.Rebalance = r
		if err := s.Validate(); err != nil {
			t.Errorf("rebalance %q: %v", r, err)
		}
	}
	s := validSpec()
	s.Rebalance = "sometimes"
	if err := s.Validate(); err == nil || err.Error() != `spec.rebalance: "sometimes" is not a rebalance mode (want "auto" or "off")` {
		t.Errorf("bad mode: %v", err)
	}
	g := validSpec()
	g.Mode, g.Replicas, g.Rebalance = ModeGlobal, 0, RebalanceAuto
	if err := g.Validate(); err == nil || !strings.HasPrefix(err.Error(), "spec.rebalance: a global service") {
		t.Errorf("global with rebalance: %v", err)
	}
	if r := validSpec(); !r.Rebalances() || g.Rebalances() {
		t.Error("Rebalances: replicated by default yes, global no")
	}
	off := validSpec()
	off.Rebalance = RebalanceOff
	if off.Rebalances() {
		t.Error("Rebalances with off")
	}
}

// TestRebalanceReplacesNoTask: a change of rebalance alone runs the same
// tasks.
func TestRebalanceReplacesNoTask(t *testing.T) {
	a, b := validSpec(), validSpec()
	b.Rebalance = RebalanceOff
	if !bytes.Equal(WorkloadKey(a), WorkloadKey(b)) || !RunsSame(a, b) {
		t.Error("rebalance changes what runs")
	}
}

func TestRebalanceNeedsProtocol6(t *testing.T) {
	s := validSpec()
	raw, _ := json.Marshal(CreateServicePayload{Spec: s})
	if got := ProtocolOf(Command{Type: CmdCreateService, Payload: raw}); got != 1 {
		t.Errorf("a plain spec needs protocol %d, want 1", got)
	}
	s.Rebalance = RebalanceOff
	raw, _ = json.Marshal(UpdateServicePayload{Name: "web", Spec: s})
	if got := ProtocolOf(Command{Type: CmdUpdateService, Payload: raw}); got != 6 {
		t.Errorf("rebalance needs protocol %d, want 6", got)
	}
	s.Rebalance = ""
	s.Labels = map[string]string{"rebalance": "x"}
	raw, _ = json.Marshal(UpdateServicePayload{Name: "web", Spec: s})
	if got := ProtocolOf(Command{Type: CmdUpdateService, Payload: raw}); got != 1 {
		t.Errorf("a label named rebalance needs protocol %d, want 1", got)
	}
	for _, task := range []Task{{ID: "t", Replaces: "a"}, {ID: "t", PreferredNode: "n"}} {
		raw, _ = json.Marshal(WriteTasksPayload{Create: []Task{task}})
		if got := ProtocolOf(Command{Type: CmdWriteTasks, Payload: raw}); got != 6 {
			t.Errorf("a move (%+v) needs protocol %d, want 6", task, got)
		}
	}
	if p := SpecProtocol(&ServiceSpec{Name: "web", Rebalance: RebalanceOff}); p != 1 {
		t.Errorf("a node needs protocol %d to run a task of a spec with rebalance, want 1", p)
	}
}

func TestParseManifestRebalance(t *testing.T) {
	specs, err := ParseManifest("r.toml", []byte("[[service]]\nname = \"web\"\ncommand = [\"sleep\", \"1\"]\nrebalance = \"off\"\n"))
	if err != nil || specs[0].Rebalance != RebalanceOff {
		t.Fatalf("rebalance off: %v, %+v", err, specs)
	}
	_, err = ParseManifest("r.toml", []byte("[[service]]\nname = \"web\"\ncommand = [\"sleep\", \"1\"]\nrebalance = \"never\"\n"))
	if want := `spec.rebalance: "never" is not a rebalance mode`; err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("bad rebalance: %v; want one line with %q", err, want)
	}
	_, err = ParseManifest("r.toml", []byte("[[service]]\nname = \"web\"\ncommand = [\"sleep\", \"1\"]\nrebalance = true\n"))
	if want := `key "rebalance": must be a string`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("rebalance = true: %v; want %q", err, want)
	}
}
