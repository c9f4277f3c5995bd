package raft

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"
	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// tcpCluster starts n Raft servers over loopback TCP, forms a cluster of n
// voters, and returns them leader first.
func tcpCluster(b *testing.B, n int) []*Consensus {
	b.Helper()
	var out []*Consensus
	for i := 0; i < n; i++ {
		trans, err := hraft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		id := string(trans.LocalAddr())
		c, err := Open(Config{DataDir: filepath.Join(b.TempDir(), fmt.Sprint(i)), LocalID: id, Transport: trans, Logger: hclog.NewNullLogger()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			c.Shutdown()
			trans.Close()
		})
		out = append(out, c)
	}
	l := out[0]
	if err := l.BootstrapSelf(); err != nil {
		b.Fatal(err)
	}
	eventually(b, 10*time.Second, "a leader", l.IsLeader)
	for _, f := range out[1:] {
		if err := l.AddNonvoter(f.localID); err != nil {
			b.Fatal(err)
		}
		eventually(b, 10*time.Second, "catch-up", func() bool { return f.AppliedIndex() >= l.CommitIndex() })
		if err := l.Promote(f.localID); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// benchTask is a task record of realistic size (~0.6 KB of JSON).
func benchTask(id string, slot uint64) api.Task {
	spec := testSpec("web")
	spec.Env = []string{"PORT=8080", "LOG_LEVEL=info", "REGION=eu-west-1"}
	spec.Restart = api.RestartPolicy{Condition: api.RestartAny, Delay: api.Duration(5 * time.Second)}
	spec.Reservations = api.Resources{NanoCPUs: 1e8, MemoryBytes: 64 << 20}
	return api.Task{ID: id, ServiceID: "svc-web", ServiceName: "web", Slot: slot, SpecVersion: 1, Spec: spec,
		DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskNew}}
}

// BenchmarkCommitTaskRecords commits new task records through a 3-voter
// Raft cluster over loopback TCP, 100 tasks per WriteTasks command, from 8
// concurrent proposers (as a scheduler fanning out would). It reports
// tasks/s committed and applied on the leader.
func BenchmarkCommitTaskRecords(b *testing.B) {
	const perCmd, proposers = 100, 8
	nodes := tcpCluster(b, 3)
	l := nodes[0]
	ctx := context.Background()
	if _, err := l.Propose(ctx, bootstrapCmd("")); err != nil {
		b.Fatal(err)
	}
	svc, _ := jsonRaw(api.CreateServicePayload{ServiceID: "svc-web", Spec: testSpec("web")})
	if _, err := l.Propose(ctx, api.Command{Type: api.CmdCreateService, Payload: svc}); err != nil {
		b.Fatal(err)
	}
	cmds := (b.N + perCmd - 1) / perCmd
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, proposers)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < proposers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= cmds {
					return
				}
				tasks := make([]api.Task, 0, perCmd)
				for j := i * perCmd; j < min((i+1)*perCmd, b.N); j++ {
					tasks = append(tasks, benchTask(fmt.Sprintf("task-%08d", j), uint64(j+1)))
				}
				p, _ := jsonRaw(api.WriteTasksPayload{Create: tasks})
				v, err := l.Propose(ctx, api.Command{Type: api.CmdWriteTasks, RequestID: fmt.Sprintf("req-%d", i), Payload: p})
				if err != nil {
					errs <- err
					return
				}
				if r := v.(*state.WriteTasksResult); r.Created != len(tasks) {
					errs <- fmt.Errorf("created %d of %d", r.Created, len(tasks))
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tasks/s")
	for _, f := range nodes[1:] {
		eventually(b, 30*time.Second, "followers to apply every task", func() bool { return len(f.Store().Tasks()) == b.N })
	}
}
