package node

import (
	"context"
	"github.com/shoal-project/shoal/state"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/node/orchestrator"
	"github.com/shoal-project/shoal/scheduler"
)

// maxTaskBatch bounds the tasks one WriteTasks command creates, so Raft
// entries stay small.
const maxTaskBatch = 500

// reconcilers are the leader's task loops. Each watches the store, computes
// what it must change from a read snapshot (pure functions in
// node/orchestrator), commits that through Raft, and waits for the next
// change. They never call each other.
func (a *Agent) reconcilers() []func(context.Context) {
	loop := func(name string, f func(v *state.View, now time.Time) api.WriteTasksPayload) func(context.Context) {
		return func(ctx context.Context) { a.reconcileLoop(ctx, name, f) }
	}
	return []func(context.Context){
		loop("orchestrator", func(v *state.View, now time.Time) api.WriteTasksPayload {
			return orchestrator.Orchestrate(v, now, api.NewRequestID)
		}),
		loop("allocator", func(v *state.View, _ time.Time) api.WriteTasksPayload {
			return orchestrator.Allocate(v, scheduler.Options{})
		}),
		loop("node-failures", func(v *state.View, _ time.Time) api.WriteTasksPayload {
			return orchestrator.HandleNodeFailures(v)
		}),
		loop("reaper", func(v *state.View, _ time.Time) api.WriteTasksPayload {
			return orchestrator.Reap(v, orchestrator.DefaultHistoryLimit)
		}),
	}
}

// reconcileLoop runs one reconciler while this node leads. Before acting it
// makes sure this node still leads and has applied everything committed
// (VerifyLeader includes a barrier), so its decisions rest on the latest
// state; after a commit it acts only on a view that includes that commit.
func (a *Agent) reconcileLoop(ctx context.Context, name string, f func(*state.View, time.Time) api.WriteTasksPayload) {
	verified := false
	retry := time.NewTimer(0)
	defer retry.Stop()
	for ctx.Err() == nil {
		watch := a.store().Watch()
		if !verified {
			vctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := a.cons.VerifyLeader(vctx)
			cancel()
			if err != nil {
				ctxutil.Sleep(ctx, 200*time.Millisecond)
				continue
			}
			verified = true
		}
		start := time.Now()
		p := f(a.store().View(), start)
		if !orchestrator.Empty(p) {
			for _, part := range splitPayload(p) {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := a.submitPayload(cctx, api.CmdWriteTasks, "", part)
				cancel()
				if err != nil {
					a.log.Warn("reconciler write failed", "reconciler", name, "err", err)
					verified = false
					ctxutil.Sleep(ctx, 100*time.Millisecond)
					break
				}
				a.metrics.placements.Add(float64(placements(part)))
			}
			a.metrics.reconcileDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
			continue // look again, at a state that includes the commit
		}
		a.metrics.reconcileDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
		// Restart delays end with time, not with a change: look again
		// every second as well.
		retry.Reset(time.Second)
		select {
		case <-ctx.Done():
		case <-watch:
		case <-retry.C:
		}
	}
}

// splitPayload cuts a large creation into several commands. A rolling
// update's stop and create for one slot stay together in the first part.
func splitPayload(p api.WriteTasksPayload) []api.WriteTasksPayload {
	if len(p.Create) <= maxTaskBatch {
		return []api.WriteTasksPayload{p}
	}
	first := p
	first.Create = p.Create[:maxTaskBatch]
	out := []api.WriteTasksPayload{first}
	for rest := p.Create[maxTaskBatch:]; len(rest) > 0; {
		n := min(len(rest), maxTaskBatch)
		out = append(out, api.WriteTasksPayload{Create: rest[:n]})
		rest = rest[n:]
	}
	return out
}

// placements counts the assignments of p that put a task on a node.
func placements(p api.WriteTasksPayload) int {
	n := 0
	for _, as := range p.Assign {
		if as.NodeID != "" {
			n++
		}
	}
	return n
}
