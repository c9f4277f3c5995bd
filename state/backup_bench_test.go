package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// backupFixture is a store with n services of 3 replicas each (3n tasks)
// on 10 nodes.
func backupFixture(b *testing.B, n int) *harness {
	h := newHarness(b)
	h.ok(api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n0", "node-0")})
	for i := 1; i < 10; i++ {
		h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode(fmt.Sprintf("n%d", i), fmt.Sprintf("node-%d", i))})
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("svc-%d", i)
		h.ok(api.CmdCreateService, api.CreateServicePayload{ServiceID: id, Spec: testSpec(fmt.Sprintf("s%d", i))})
		var ts []api.Task
		for slot := uint64(1); slot <= 3; slot++ {
			t := newTask(fmt.Sprintf("%s-t%d", id, slot), slot)
			t.ServiceID = id
			ts = append(ts, t)
		}
		h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: ts})
	}
	return h
}

// BenchmarkBackup measures encoding and verifying a backup of 1000
// services with 3000 tasks, and reports its size.
func BenchmarkBackup(b *testing.B) {
	h := backupFixture(b, 1000)
	var size int
	b.Run("encode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			data, _, err := h.fsm.store.EncodeBackup(1, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			size = len(data)
		}
		b.ReportMetric(float64(size), "bytes")
	})
	data, _, _ := h.fsm.store.EncodeBackup(1, time.Now())
	b.Run("decode", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := DecodeBackup(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
