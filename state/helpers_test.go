package state

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// t0 is the command time the harness starts from.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// harness feeds commands to an FSM as a Raft log would.
type harness struct {
	t     testing.TB
	fsm   *FSM
	index uint64
	now   time.Time
}

func newHarness(t testing.TB) *harness {
	return &harness{t: t, fsm: NewFSM(NewStore()), now: t0}
}

// encode builds a command log entry.
func encode(t testing.TB, typ api.CommandType, reqID string, when time.Time, payload any) []byte {
	t.Helper()
	p, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(api.Command{Version: api.CommandVersion, Type: typ, RequestID: reqID, Time: when, Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// raw applies a log entry and returns its result.
func (h *harness) raw(data []byte) *ApplyResult {
	h.t.Helper()
	h.index++
	return h.fsm.Apply(Entry{Index: h.index, Data: data})
}

// do applies a command one millisecond after the previous one.
func (h *harness) do(typ api.CommandType, reqID string, payload any) *ApplyResult {
	h.t.Helper()
	h.now = h.now.Add(time.Millisecond)
	return h.raw(encode(h.t, typ, reqID, h.now, payload))
}

// ok applies a command that must succeed.
func (h *harness) ok(typ api.CommandType, payload any) any {
	h.t.Helper()
	res := h.do(typ, "", payload)
	if res.Err != nil {
		h.t.Fatalf("%s: %v", typ, res.Err)
	}
	return res.Value
}

// fails applies a command that must fail with code.
func (h *harness) fails(typ api.CommandType, code api.ErrorCode, payload any) *api.Error {
	h.t.Helper()
	res := h.do(typ, "", payload)
	if res.Err == nil {
		h.t.Fatalf("%s succeeded, want %s error", typ, code)
	}
	if res.Err.Code != code {
		h.t.Fatalf("%s failed with %s (%v), want %s", typ, res.Err.Code, res.Err, code)
	}
	return res.Err
}

func testCluster() api.Cluster {
	return api.Cluster{
		ID:         "cluster-1",
		SigningKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)),
		TokenNonce: []byte("nonce-1"),
		GossipKey:  bytes.Repeat([]byte{1}, 32),
	}
}

func testNode(id, name string) api.Node {
	return api.Node{ID: id, Name: name, P2PAddr: "10.0.0.1:7000", GossipAddr: "10.0.0.1:7001",
		Resources: api.Resources{NanoCPUs: 4e9, MemoryBytes: 8 << 30}, Runtimes: []string{"process"}}
}

func testSpec(name string) api.ServiceSpec {
	return api.ServiceSpec{Name: name, Runtime: "process", Command: []string{"sleep", "1000"}, Mode: api.ModeReplicated, Replicas: 3}
}

// bootstrapped returns a harness with a cluster, nodes n1 and n2, and a
// service "web" (ID svc-web).
func bootstrapped(t testing.TB) *harness {
	h := newHarness(t)
	h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")})
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n2", "node-2")})
	h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-web", Spec: testSpec("web")})
	return h
}

// newTask returns a new task record for the web service.
func newTask(id string, slot uint64) api.Task {
	return api.Task{ID: id, ServiceID: "svc-web", Slot: slot, SpecVersion: 1, Spec: testSpec("web"),
		DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskNew}}
}

// snapshotBytes writes a snapshot of f and returns its bytes.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := f.Snapshot().Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustTask(t testing.TB, s *Store, id string) *api.Task {
	t.Helper()
	task, ok := s.Task(id)
	if !ok {
		t.Fatalf("task %s not found", id)
	}
	return task
}
