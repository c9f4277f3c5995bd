package state

import (
	"testing"

	"github.com/shoal-project/shoal/api"
)

// FuzzApply feeds arbitrary log entries to a bootstrapped FSM: it must
// never panic, must always return an *ApplyResult, and must keep the
// store's invariants (unique node and service names).
func FuzzApply(f *testing.F) {
	for _, data := range testLog(f) {
		f.Add(data)
	}
	f.Add([]byte(`{"v":1,"type":"task.write","time":"2026-01-02T03:04:05Z","payload":{"create":[{"id":"x","service_id":"svc-web"}],"assign":[{"task_id":"x","node_id":"n2"}]}}`))
	f.Add([]byte(`{"v":1,"type":"node.register","time":"2026-01-02T03:04:05Z","payload":{"node":{"id":"n9","name":"node-1"}}}`))
	f.Add([]byte(`{"v":1,"type":"service.update","time":"2026-01-02T03:04:05Z","payload":{"name":"web","spec":{"name":"web","mode":"global","runtime":"x"}}}`))
	f.Add([]byte(`{"v":1,"type":"task.report","request_id":"r","time":"0001-01-01T00:00:01Z","payload":{"node_id":"n1","updates":[{"task_id":"x","status":{"state":"running"}}]}}`))
	f.Add([]byte(`{"v":99}`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := bootstrapped(t)
		h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("x", 1)}})
		res := h.raw(data)
		if res.Err != nil && (res.Err.Code == "" || res.Err.Message == "") {
			t.Fatalf("error without code or message: %+v", res.Err)
		}
		if res.Err != nil && res.Value != nil {
			t.Fatalf("both a value and an error: %+v", res)
		}
		// The same entry again must not panic either (retry path).
		h.raw(data)
		names := map[string]bool{}
		for _, n := range h.fsm.store.Nodes() {
			if names[n.Name] {
				t.Fatalf("two nodes named %q", n.Name)
			}
			names[n.Name] = true
		}
		names = map[string]bool{}
		for _, s := range h.fsm.store.Services() {
			if names[s.Spec.Name] {
				t.Fatalf("two services named %q", s.Spec.Name)
			}
			names[s.Spec.Name] = true
		}
	})
}

// FuzzDecodeCommand checks that DecodeCommand never panics and that what
// it accepts is a known, supported, timed command.
func FuzzDecodeCommand(f *testing.F) {
	for _, data := range testLog(f) {
		f.Add(data)
	}
	f.Add([]byte(`{"v":1,"type":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := DecodeCommand(data)
		if (cmd == nil) == (err == nil) {
			t.Fatalf("want exactly one of command and error, got %v and %v", cmd, err)
		}
		if cmd == nil {
			return
		}
		if _, ok := handlers[cmd.Type]; !ok || cmd.Version < 1 || cmd.Version > api.CommandVersion || cmd.Time.IsZero() {
			t.Fatalf("accepted %+v", cmd)
		}
	})
}
