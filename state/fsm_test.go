package state

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

func TestRetryWithSameRequestIDAppliesOnce(t *testing.T) {
	h := bootstrapped(t)
	p := api.CreateServicePayload{ServiceID: "svc-api", Spec: testSpec("api")}
	first := h.do(api.CmdCreateService, "req-1", p)
	if first.Err != nil {
		t.Fatal(first.Err)
	}
	created := h.now
	// Without a request ID the same create is a conflict; with it, the
	// first result comes back.
	h.fails(api.CmdCreateService, api.CodeConflict, p)
	again := h.do(api.CmdCreateService, "req-1", p)
	if again.Err != nil {
		t.Fatalf("retry failed: %v", again.Err)
	}
	s := again.Value.(*api.Service)
	if s.ID != "svc-api" || s.Version != 1 || !s.CreatedAt.Equal(created) {
		t.Fatalf("retry returned %+v, want the first result", s)
	}
	// A retried update must not bump the version twice.
	up := api.UpdateServicePayload{Name: "api", Spec: testSpec("api")}
	h.do(api.CmdUpdateService, "req-2", up)
	h.do(api.CmdUpdateService, "req-2", up)
	if s, _ := h.fsm.store.ServiceByName("api"); s.Version != 2 {
		t.Fatalf("version %d after a retried update, want 2", s.Version)
	}
	// A failed request returns its first error even after the state that
	// caused it changed.
	h.do(api.CmdRemoveService, "req-3", api.RemoveServicePayload{Name: "db"})
	h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-db", Spec: testSpec("db")})
	if res := h.do(api.CmdRemoveService, "req-3", api.RemoveServicePayload{Name: "db"}); res.Err == nil || res.Err.Code != api.CodeNotFound {
		t.Fatalf("retry of a failed request = %+v, want its first not_found", res)
	}
	if _, ok := h.fsm.store.ServiceByName("db"); !ok {
		t.Fatal("retry of a failed request applied")
	}
	// The same request ID on another command type is a conflict.
	if res := h.do(api.CmdRemoveService, "req-1", api.RemoveServicePayload{Name: "api"}); res.Err == nil || res.Err.Code != api.CodeConflict {
		t.Fatalf("reuse of a request id = %+v, want conflict", res)
	}
}

func TestRequestRecordsExpireByCommandTime(t *testing.T) {
	h := bootstrapped(t)
	p := api.CreateServicePayload{ServiceID: "svc-api", Spec: testSpec("api")}
	if res := h.do(api.CmdCreateService, "req-1", p); res.Err != nil {
		t.Fatal(res.Err)
	}
	h.now = h.now.Add(RequestTTL - time.Second)
	if res := h.do(api.CmdCreateService, "req-1", p); res.Err != nil {
		t.Fatalf("retry within the TTL: %v", res.Err)
	}
	h.now = h.now.Add(2 * time.Second)
	h.ok(api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n1", Status: api.NodeReady})
	if _, ok := h.fsm.store.View().request("req-1"); ok {
		t.Fatal("request record outlived its TTL in command time")
	}
	if res := h.do(api.CmdCreateService, "req-1", p); res.Err == nil || res.Err.Code != api.CodeConflict {
		t.Fatalf("after the TTL the command must apply again (conflict), got %+v", res)
	}
}

func TestGarbageIsRefused(t *testing.T) {
	now := t0.Format(time.RFC3339Nano)
	cases := map[string]string{
		"empty":          ``,
		"not json":       `hello`,
		"truncated":      `{"v":1,"type":"node.remove"`,
		"array":          `[1,2]`,
		"null":           `null`,
		"trailing":       `{"v":1,"type":"node.remove","time":"` + now + `","payload":{"node_id":"n1"}} {}`,
		"newer version":  `{"v":2,"type":"node.remove","time":"` + now + `","payload":{"node_id":"n1"}}`,
		"no version":     `{"type":"node.remove","time":"` + now + `","payload":{"node_id":"n1"}}`,
		"unknown type":   `{"v":1,"type":"node.explode","time":"` + now + `","payload":{}}`,
		"no time":        `{"v":1,"type":"node.remove","payload":{"node_id":"n1"}}`,
		"bad time":       `{"v":1,"type":"node.remove","time":"yesterday","payload":{}}`,
		"no payload":     `{"v":1,"type":"node.remove","time":"` + now + `"}`,
		"bad payload":    `{"v":1,"type":"node.remove","time":"` + now + `","payload":[1]}`,
		"bad task state": `{"v":1,"type":"task.write","time":"` + now + `","payload":{"create":[{"id":"x","service_id":"svc-web","desired_state":"flying"}]}}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			h := bootstrapped(t)
			before := snapshotBytes(t, h.fsm)
			res := h.raw([]byte(in))
			if res.Err == nil || res.Err.Code != api.CodeInvalid {
				t.Fatalf("result = %+v, want an invalid error", res)
			}
			if strings.Contains(res.Err.Message, "\n") || res.Err.Message == "" {
				t.Fatalf("error %q is not one line", res.Err.Message)
			}
			after := snapshotBytes(t, h.fsm)
			// Only the applied index in the header may move.
			if !bytes.Equal(dropHeader(before), dropHeader(after)) {
				t.Fatal("refused command changed the store")
			}
		})
	}
}

func dropHeader(snap []byte) []byte {
	_, rest, _ := bytes.Cut(snap, []byte("\n"))
	return rest
}

func TestNonCommandLogsAdvanceIndex(t *testing.T) {
	h := bootstrapped(t)
	w := h.fsm.store.Watch()
	if out := h.fsm.ApplyBatch(nil, 100); len(out) != 0 {
		t.Fatalf("a batch without commands returned %v", out)
	}
	if got := h.fsm.store.AppliedIndex(); got != 100 {
		t.Fatalf("applied index %d, want 100", got)
	}
	select {
	case <-w:
	default:
		t.Fatal("watch not fired")
	}
}

// testLog is a command sequence that touches every command type.
func testLog(t testing.TB) [][]byte {
	var log [][]byte
	at := t0
	add := func(typ api.CommandType, req string, p any) {
		at = at.Add(time.Second)
		log = append(log, encode(t, typ, req, at, p))
	}
	add(api.CmdBootstrap, "r0", api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")})
	add(api.CmdRegisterNode, "r1", api.RegisterNodePayload{Node: testNode("n2", "node-2")})
	add(api.CmdRegisterNode, "r2", api.RegisterNodePayload{Node: testNode("n3", "node-3")})
	add(api.CmdUpdateNode, "", api.UpdateNodePayload{NodeID: "n2", LabelAdd: map[string]string{"zone": "b", "ssd": "yes"}})
	add(api.CmdRotateToken, "", api.RotateTokenPayload{TokenNonce: []byte("nonce-2")})
	add(api.CmdCreateService, "r3", api.CreateServicePayload{ServiceID: "svc-web", Spec: testSpec("web")})
	add(api.CmdCreateService, "r4", api.CreateServicePayload{ServiceID: "svc-db", Spec: testSpec("db")})
	add(api.CmdCreateService, "r4", api.CreateServicePayload{ServiceID: "svc-db", Spec: testSpec("db")})
	add(api.CmdWriteTasks, "r5", api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2), newTask("t3", 3)},
		Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n1"}, {TaskID: "t2", NodeID: "n2"}, {TaskID: "t3", Err: "full"}}})
	add(api.CmdReportTaskStatus, "", api.ReportTaskStatusPayload{NodeID: "n1", Updates: []api.TaskStatusUpdate{{TaskID: "t1", Status: api.TaskStatus{State: api.TaskRunning}}}})
	add(api.CmdReportTaskStatus, "", api.ReportTaskStatusPayload{NodeID: "n3", Updates: []api.TaskStatusUpdate{{TaskID: "t2", Status: api.TaskStatus{State: api.TaskFailed}}}})
	add(api.CmdUpdateService, "r6", api.UpdateServicePayload{Name: "web", ExpectVersion: 1, Spec: testSpec("web")})
	add(api.CmdSetNodeStatus, "", api.SetNodeStatusPayload{NodeID: "n3", Status: api.NodeDown})
	add(api.CmdRemoveService, "r7", api.RemoveServicePayload{Name: "db"})
	add(api.CmdWriteTasks, "", api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "t2", DesiredState: api.TaskShutdown}}, Delete: []string{"t3"}})
	add(api.CmdRemoveNode, "", api.RemoveNodePayload{NodeID: "n3"})
	log = append(log, []byte("garbage"))
	return log
}

func TestDeterministicApply(t *testing.T) {
	log := testLog(t)
	a, b := NewFSM(NewStore()), NewFSM(NewStore())
	for i, data := range log {
		a.Apply(Entry{Index: uint64(i + 1), Data: data})
	}
	// b gets the same log in batches of three.
	var batch []Entry
	for i, data := range log {
		batch = append(batch, Entry{Index: uint64(i + 1), Data: data})
		if len(batch) == 3 || i == len(log)-1 {
			b.ApplyBatch(batch, batch[len(batch)-1].Index)
			batch = nil
		}
	}
	sa, sb := snapshotBytes(t, a), snapshotBytes(t, b)
	if !bytes.Equal(sa, sb) {
		t.Fatalf("two FSMs fed the same log differ:\n%s\n---\n%s", sa, sb)
	}
	if n := len(a.store.Tasks()); n != 2 {
		t.Fatalf("%d tasks, want 2", n)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src := NewFSM(NewStore())
	for i, data := range testLog(t) {
		src.Apply(Entry{Index: uint64(i + 1), Data: data})
	}
	snap := snapshotBytes(t, src)
	dst := newHarness(t)
	dst.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("old", "old")})
	w := dst.fsm.store.Watch()
	old := dst.fsm.store.View()
	if err := dst.fsm.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w:
	default:
		t.Fatal("restore did not fire watches")
	}
	if got := snapshotBytes(t, dst.fsm); !bytes.Equal(got, snap) {
		t.Fatalf("restored store differs:\n%s\n---\n%s", got, snap)
	}
	if dst.fsm.store.AppliedIndex() != src.store.AppliedIndex() {
		t.Fatalf("index %d, want %d", dst.fsm.store.AppliedIndex(), src.store.AppliedIndex())
	}
	if _, ok := dst.fsm.store.Node("old"); ok {
		t.Fatal("restore did not replace the store wholesale")
	}
	if _, ok := old.Node("old"); !ok {
		t.Fatal("a view taken before the restore changed")
	}
	// Request records survive: a retry after restore returns the first result.
	dst.index, dst.now = src.store.AppliedIndex(), t0.Add(time.Minute)
	res := dst.do(api.CmdCreateService, "r3", api.CreateServicePayload{ServiceID: "svc-web", Spec: testSpec("web")})
	if s, ok := res.Value.(*api.Service); res.Err != nil || !ok || s.ID != "svc-web" || s.Version != 1 {
		t.Fatalf("retry after restore = %+v", res)
	}
}

func TestRestoreRefusesGarbage(t *testing.T) {
	cases := map[string]string{
		"empty":       ``,
		"bad header":  `{"shoal_snapshot":9,"index":1}`,
		"not json":    `{"shoal_snapshot":1,"index":1}` + "\nxx",
		"two rows":    `{"shoal_snapshot":1}` + "\n" + `{"node":{"id":"a"},"task":{"id":"b"}}`,
		"empty row":   `{"shoal_snapshot":1}` + "\n{}",
		"missing id":  `{"shoal_snapshot":1}` + "\n" + `{"node":{"name":"a"}}`,
		"bad task":    `{"shoal_snapshot":1}` + "\n" + `{"task":{"id":"a","status":{"state":"odd"}}}`,
		"wrong shape": `{"shoal_snapshot":1}` + "\n" + `{"node":[1]}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			h := bootstrapped(t)
			before := snapshotBytes(t, h.fsm)
			err := h.fsm.Restore(io.NopCloser(strings.NewReader(in)))
			if err == nil {
				t.Fatal("restore accepted garbage")
			}
			if !bytes.Equal(before, snapshotBytes(t, h.fsm)) {
				t.Fatal("failed restore changed the store")
			}
		})
	}
}
