package executor

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
)

// Retry delays for a failing Reporter, and the bound on one call.
const (
	minReportBackoff = 200 * time.Millisecond
	maxReportBackoff = 5 * time.Second
	reportTimeout    = 30 * time.Second
)

// reportQueue holds the statuses not yet committed, per task in the order
// they were observed. A batch that failed is coalesced when it goes back:
// only each task's latest status is retried.
type reportQueue struct {
	mu       sync.Mutex
	pending  map[string][]api.TaskStatus
	inflight int // updates handed to the Reporter and not yet answered
	wake     chan struct{}
}

func newReportQueue() *reportQueue {
	return &reportQueue{pending: map[string][]api.TaskStatus{}, wake: make(chan struct{}, 1)}
}

// put queues st for task id unless an equal or further state is queued.
func (q *reportQueue) put(id string, st api.TaskStatus) {
	q.mu.Lock()
	cur := q.pending[id]
	switch n := len(cur); {
	case n == 0 || st.State > cur[n-1].State:
		q.pending[id] = append(cur, st)
	case st.State == cur[n-1].State && st.Health != cur[n-1].Health:
		cur[n-1] = st // a running task's health changed: the latest wins
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// drop forgets the queued statuses of a removed task.
func (q *reportQueue) drop(id string) {
	q.mu.Lock()
	delete(q.pending, id)
	q.mu.Unlock()
}

// take empties the queue into a batch sorted by task ID, each task's
// statuses in order.
func (q *reportQueue) take() []api.TaskStatusUpdate {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := make([]string, 0, len(q.pending))
	for id := range q.pending {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var batch []api.TaskStatusUpdate
	for _, id := range ids {
		for _, st := range q.pending[id] {
			batch = append(batch, api.TaskStatusUpdate{TaskID: id, Status: st})
		}
	}
	q.pending = map[string][]api.TaskStatus{}
	q.inflight = len(batch)
	return batch
}

// settle ends a call. The latest status of each task in a failed batch
// goes back into the queue, unless the task was removed meanwhile (keep is
// false) or a further state was queued since; keep is called without the
// queue's lock held.
func (q *reportQueue) settle(failed []api.TaskStatusUpdate, keep func(id string) bool) {
	latest := map[string]api.TaskStatus{}
	for _, u := range failed {
		if cur, ok := latest[u.TaskID]; !ok || u.Status.State >= cur.State {
			latest[u.TaskID] = u.Status
		}
	}
	for id := range latest {
		if !keep(id) {
			delete(latest, id)
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight = 0
	for id, st := range latest {
		if cur := q.pending[id]; len(cur) > 0 && cur[len(cur)-1].State >= st.State {
			st = cur[len(cur)-1]
		}
		q.pending[id] = []api.TaskStatus{st} // coalesced: the latest wins
	}
}

// idle reports whether nothing is queued or being sent.
func (q *reportQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending) == 0 && q.inflight == 0
}

// reportLoop sends queued statuses in batches, one batch per
// ReportInterval at most, retrying with backoff while the Reporter fails.
func (e *Executor) reportLoop(ctx context.Context) {
	defer e.wg.Done()
	backoff := time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.reports.wake:
		}
		if ctxutil.Sleep(ctx, e.cfg.ReportInterval) != nil {
			return
		}
		for {
			batch := e.reports.take()
			if len(batch) == 0 {
				e.reports.settle(nil, nil)
				break
			}
			cctx, cancel := context.WithTimeout(ctx, reportTimeout)
			err := e.cfg.Report(cctx, batch)
			cancel()
			if err == nil {
				e.reports.settle(nil, nil)
				backoff = 0
				break
			}
			e.reports.settle(batch, e.stillKnown)
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, minReportBackoff), maxReportBackoff)
			e.log.Warn("executor: task statuses not reported; retrying", "count", len(batch), "err", err, "retry_in", backoff)
			if ctxutil.Sleep(ctx, backoff) != nil {
				return
			}
		}
	}
}

// stillKnown reports whether the executor still has the task.
func (e *Executor) stillKnown(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.tasks[id]
	return ok
}
