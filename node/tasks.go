package node

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/node/executor"
)

// startExecutor starts this node's task agent. Its assignments come from
// the leader: Raft servers receive them through the Raft log, plain members
// through the state feed — both streams of the leader's committed decisions
// over libp2p. The executor keeps them on disk and runs them even while no
// leader is reachable.
func (a *Agent) startExecutor() error {
	runtimes, err := a.openRuntimes()
	if err != nil {
		return err
	}
	ex, err := executor.New(executor.Config{
		NodeID:   a.ID(),
		NodeName: a.cfg.Name,
		StateDir: filepath.Join(a.cfg.DataDir, "executor"),
		Runtimes: runtimes,
		Report:   a.reportTaskStatus,
		Logger:   a.log,
		Started:  a.metrics.taskStarted,
		Secrets:  a,
		ImageHealth: func() bool { // health reports, without a spec that needed protocol 5
			return everyNodeApplies(api.CmdReportTaskStatus, api.ReportTaskStatusPayload{
				Updates: []api.TaskStatusUpdate{{Status: api.TaskStatus{State: api.TaskRunning, Health: api.HealthStarting}}}}, a.store().Nodes())
		},
	})
	if err != nil {
		return fmt.Errorf("executor: %v", err)
	}
	a.executor = ex
	a.goLoop(func() {
		if err := ex.Run(a.ctx); err != nil && a.ctx.Err() == nil {
			a.log.Error("executor stopped", "err", err)
		}
	})
	a.goLoop(a.assignmentLoop)
	if a.containerd != nil {
		a.goLoop(a.imageReportLoop)
	}
	return nil
}

// reportTaskStatus commits a batch of observed states through the leader.
func (a *Agent) reportTaskStatus(ctx context.Context, updates []api.TaskStatusUpdate) error {
	_, err := a.submitPayload(ctx, api.CmdReportTaskStatus, "", api.ReportTaskStatusPayload{NodeID: a.ID(), Updates: updates})
	return err
}

// assignmentLoop hands the executor the tasks assigned to this node each
// time the local replica changes, from one view with its index. After a
// start the replica replays its log from the last snapshot, and its early
// states lack tasks assigned later: the executor keeps the set it saved on
// disk until the replica has caught up with the leader once (a read
// index), and ignores sets older than the one it saved.
func (a *Agent) assignmentLoop() {
	for a.ctx.Err() == nil {
		if a.consistentRead(a.ctx) == nil {
			break
		}
		ctxutil.Sleep(a.ctx, 100*time.Millisecond)
	}
	for {
		watch := a.store().Watch()
		view := a.store().View()
		if _, synced := view.Cluster(); synced && view.Index() > 0 {
			tasks := view.TasksByNode(a.ID())
			set := make([]api.Task, 0, len(tasks))
			for _, t := range tasks {
				set = append(set, *t)
			}
			a.executor.SetAssignmentsAt(view.Index(), set)
		}
		select {
		case <-a.ctx.Done():
			return
		case <-watch:
		}
	}
}
