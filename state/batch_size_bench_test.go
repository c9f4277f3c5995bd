package state

import (
	"fmt"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// BenchmarkSpawnBatchSize applies task.write entries spawning tasks into a
// store that holds 50,000 already, at several entry sizes: ns/task shows
// what one entry's size costs per task (a memdb transaction that changes
// more than 8,192 radix nodes of one index notifies its watchers by
// walking the whole index).
func BenchmarkSpawnBatchSize(b *testing.B) {
	for _, per := range []int{500, 1000, 2000} {
		b.Run(fmt.Sprint(per), func(b *testing.B) {
			h := newHarness(b)
			h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")})
			h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-web", Spec: benchSpec()})
			for off := 0; off < 50000; off += 1000 {
				if r := h.raw(encode(b, api.CmdWriteTasks, fmt.Sprintf("pre-%d", off), h.now, randomCreation(off, 1000))); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				data := encode(b, api.CmdWriteTasks, fmt.Sprintf("req-%d", i), h.now, randomCreation(100000+i*per, per))
				if r := h.raw(data); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/task")
		})
	}
}

// randomCreation spawns n tasks with IDs spread like real ones (hex of a
// hash), slots from first+1.
func randomCreation(first, n int) api.WriteTasksPayload {
	p := creation("spawn", first, n)
	for j := range p.Spawn {
		x := uint64(first+j)*0x9E3779B97F4A7C15 ^ 0xD1B54A32D192ED03
		p.Spawn[j].ID = fmt.Sprintf("%016x%016x", x, x*31)
	}
	return p
}

// BenchmarkReportBatchSize applies task.reportBatch entries that mark
// tasks running, into a store of 50,000 tasks on one node, at several
// entry sizes (see BenchmarkSpawnBatchSize).
func BenchmarkReportBatchSize(b *testing.B) {
	for _, per := range []int{500, 750, 1000, 2000} {
		b.Run(fmt.Sprint(per), func(b *testing.B) {
			h := newHarness(b)
			h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")})
			h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-web", Spec: benchSpec()})
			total := 50000 + b.N*per
			var ids []string
			for off := 0; off < total; off += 1000 {
				p := randomCreation(off, min(1000, total-off))
				for j := range p.Spawn {
					p.Spawn[j].NodeID = "n1"
					p.Spawn[j].Status.State = api.TaskAssigned
					ids = append(ids, p.Spawn[j].ID)
				}
				if r := h.raw(encode(b, api.CmdWriteTasks, fmt.Sprintf("pre-%d", off), h.now, p)); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				ups := make([]api.TaskStatusUpdate, per)
				for j := range ups {
					ups[j] = api.TaskStatusUpdate{TaskID: ids[50000+i*per+j], Status: api.TaskStatus{State: api.TaskRunning, Timestamp: h.now}}
				}
				p := api.ReportTaskStatusBatchPayload{Reports: []api.ReportTaskStatusPayload{{NodeID: "n1", Updates: ups}}}
				if r := h.raw(encode(b, api.CmdReportTaskStatusBatch, fmt.Sprintf("rep-%d", i), h.now, p)); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/task")
		})
	}
}
