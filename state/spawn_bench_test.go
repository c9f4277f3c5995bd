package state

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// benchSpec is a service spec of the size a real one has: an image, a
// command, env, labels, a port, a health check and a restart policy.
func benchSpec() api.ServiceSpec {
	s := testSpec("web")
	s.Runtime = "containerd"
	s.Image = "registry.example.com:5000/team/web:1.4.2"
	s.Command = []string{"/usr/local/bin/web", "--listen", ":8080", "--log-format", "json"}
	s.Env = []string{"MODE=production", "CACHE_SIZE=256", "UPSTREAM=http://api.shoal:8080", "LOG_LEVEL=info"}
	s.Labels = map[string]string{"team": "storefront", "tier": "frontend", "release": "2026-11"}
	s.Ports = []api.PortSpec{{Name: "http", Port: 8080, TargetPort: 8080, Protocol: "tcp"}}
	s.Restart = api.RestartPolicy{Condition: api.RestartAny}
	return s
}

// BenchmarkTaskCreationEntry encodes and applies one task.write entry
// creating 1,000 tasks, with specs (create, protocol ≤ 5) and without
// (spawn, protocol 6): entry-B/task is what Raft, every follower and the
// state feed carry per new task; B/op and ns/op are the leader's encode
// and the FSM's apply.
func BenchmarkTaskCreationEntry(b *testing.B) {
	for _, form := range []string{"create", "spawn"} {
		b.Run(form, func(b *testing.B) {
			h := newHarness(b)
			h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")})
			h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-web", Spec: benchSpec()})
			const per = 1000
			var bytes int
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				p := creation(form, i*per, per)
				data := encode(b, api.CmdWriteTasks, fmt.Sprintf("req-%d", i), h.now, p)
				bytes += len(data)
				if r := h.raw(data); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			b.ReportMetric(float64(bytes)/float64(b.N*per), "entry-B/task")
		})
	}
}

// BenchmarkTaskMemory applies 20,000 new tasks and reports the heap they
// keep per task on a replica (heap-B/task): spawned tasks share their
// service's spec, created ones each decode their own.
func BenchmarkTaskMemory(b *testing.B) {
	for _, form := range []string{"create", "spawn"} {
		b.Run(form, func(b *testing.B) {
			const n = 20000
			var kept float64
			for i := range b.N {
				h := newHarness(b)
				h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")})
				h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-web", Spec: benchSpec()})
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for off := 0; off < n; off += 1000 {
					if r := h.raw(encode(b, api.CmdWriteTasks, fmt.Sprintf("req-%d-%d", i, off), h.now, creation(form, off, 1000))); r.Err != nil {
						b.Fatal(r.Err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				kept += float64(after.HeapAlloc-before.HeapAlloc) / n
				runtime.KeepAlive(h)
			}
			b.ReportMetric(kept/float64(b.N), "heap-B/task")
		})
	}
}

// creation returns a task.write payload of n new tasks of the web
// service, numbered from first, in the given form.
func creation(form string, first, n int) api.WriteTasksPayload {
	ts := make([]api.Task, n)
	for j := range ts {
		ts[j] = api.Task{ID: fmt.Sprintf("task-%012d", first+j), ServiceID: "svc-web", ServiceName: "web",
			Slot: uint64(first + j + 1), SpecVersion: 1, DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskNew}}
		if form == "create" {
			ts[j].Spec = benchSpec()
		}
	}
	if form == "create" {
		return api.WriteTasksPayload{Create: ts}
	}
	return api.WriteTasksPayload{Spawn: ts}
}
