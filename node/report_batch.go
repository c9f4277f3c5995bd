package node

import (
	"context"
	"encoding/json"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// Group commit of task reports on the leader. Every node reports its
// tasks' observed states to the leader (task.report), each node on its
// own; with hundreds of nodes that is hundreds of Raft entries a second,
// and each entry costs a log write on every voter, an FSM apply on every
// replica and a frame of the state feed for every member. The leader
// instead commits the reports that arrive while an earlier commit is in
// flight together, in one task.reportBatch entry — as Swarm's dispatcher
// gathers its workers' status updates into one store batch. A report that
// finds the pipeline idle is committed at once, alone, as a task.report: a
// small cluster's log is what it always was, and nothing waits for a timer.
const (
	// reportsInFlight is how many report commits may be under way at once:
	// one being committed while the next gathers.
	reportsInFlight = 2
	// maxBatchUpdates bounds the task updates of one batch entry (each is
	// ~150 bytes): what a user's write may wait behind stays small, and so
	// does the entry's go-memdb transaction (at 2,000 updates it passes
	// the size where committing it walks every task index: 3.3× the cost
	// per update, state.BenchmarkReportBatchSize).
	maxBatchUpdates = 1000
	// reportQueue is how many reports may wait for a commit slot.
	reportQueue = 4096
	// reportCommitTimeout bounds one commit of a batch.
	reportCommitTimeout = 10 * time.Second
)

// reportBatcher merges concurrent task reports into batch entries. Each
// report's sender was checked before it got here (a node speaks only for
// itself); the batch command is leader-only.
type reportBatcher struct {
	// commit stamps and commits one command on this node, which leads.
	commit func(ctx context.Context, cmd api.Command) (proposeReply, error)
	// canBatch reports whether every node applies cmd (protocol 5).
	canBatch func(cmd api.Command) bool
	queue    chan *queuedReport
	// slots holds a token per commit in flight.
	slots chan struct{}
}

type queuedReport struct {
	cmd     api.Command // the report as its node sent it
	payload api.ReportTaskStatusPayload
	done    chan reportOutcome // buffered: the loop never waits on it
}

type reportOutcome struct {
	reply proposeReply
	err   error
}

func newReportBatcher(commit func(context.Context, api.Command) (proposeReply, error), canBatch func(api.Command) bool) *reportBatcher {
	return &reportBatcher{commit: commit, canBatch: canBatch,
		queue: make(chan *queuedReport, reportQueue), slots: make(chan struct{}, reportsInFlight)}
}

// submit queues one task.report and waits for its outcome, or for ctx.
func (b *reportBatcher) submit(ctx context.Context, cmd api.Command) (proposeReply, error) {
	q := &queuedReport{cmd: cmd, done: make(chan reportOutcome, 1)}
	if err := json.Unmarshal(cmd.Payload, &q.payload); err != nil || q.payload.NodeID == "" {
		// The FSM gives the exact refusal; such a report never joins a batch.
		return b.commit(ctx, cmd)
	}
	select {
	case b.queue <- q:
	case <-ctx.Done():
		return proposeReply{}, api.Errorf(api.CodeUnavailable, "task report not proposed: %v", ctx.Err())
	}
	select {
	case o := <-q.done:
		return o.reply, o.err
	case <-ctx.Done():
		return proposeReply{}, errOutcomeUnknown(ctx.Err())
	}
}

// errOutcomeUnknown is the answer to a report whose waiter gave up: it may
// still commit; reports are idempotent, so the node simply reports again.
func errOutcomeUnknown(err error) error {
	return api.Errorf(api.CodeUnavailable, "task report: outcome unknown (%v); report again", err)
}

// run gathers and commits reports until ctx ends.
func (b *reportBatcher) run(ctx context.Context) {
	for {
		var first *queuedReport
		select {
		case <-ctx.Done():
			return
		case first = <-b.queue:
		}
		// Wait for a commit slot; reports keep queueing meanwhile and join
		// this batch.
		select {
		case <-ctx.Done():
			first.done <- reportOutcome{err: errOutcomeUnknown(ctx.Err())}
			return
		case b.slots <- struct{}{}:
		}
		batch, updates := []*queuedReport{first}, len(first.payload.Updates)
	gather:
		for updates < maxBatchUpdates {
			select {
			case q := <-b.queue:
				batch, updates = append(batch, q), updates+len(q.payload.Updates)
			default:
				break gather
			}
		}
		go func() {
			defer func() { <-b.slots }()
			cctx, cancel := context.WithTimeout(ctx, reportCommitTimeout)
			defer cancel()
			b.commitBatch(cctx, batch)
		}()
	}
}

// commitBatch commits batch as one entry (a single report as itself) and
// hands every report its own outcome.
func (b *reportBatcher) commitBatch(ctx context.Context, batch []*queuedReport) {
	if len(batch) == 1 {
		reply, err := b.commit(ctx, batch[0].cmd)
		batch[0].done <- reportOutcome{reply, err}
		return
	}
	p := api.ReportTaskStatusBatchPayload{Reports: make([]api.ReportTaskStatusPayload, len(batch))}
	for i, q := range batch {
		p.Reports[i] = q.payload
	}
	raw, err := json.Marshal(p)
	if err != nil {
		b.fail(batch, err)
		return
	}
	cmd := api.Command{Version: api.CommandVersion, Type: api.CmdReportTaskStatusBatch, RequestID: api.NewRequestID(), Payload: raw}
	if !b.canBatch(cmd) {
		// A node of an older build would not apply the batch: one entry
		// per report, as before.
		for _, q := range batch {
			reply, err := b.commit(ctx, q.cmd)
			q.done <- reportOutcome{reply, err}
		}
		return
	}
	reply, err := b.commit(ctx, cmd)
	if err != nil {
		b.fail(batch, err)
		return
	}
	var res state.ReportTaskStatusBatchResult
	if err := json.Unmarshal(reply.Value, &res); err != nil || len(res.Results) != len(batch) {
		b.fail(batch, api.Errorf(api.CodeInternal, "task report batch: unexpected result %s", reply.Value))
		return
	}
	for i, q := range batch {
		if i < len(res.Errors) && res.Errors[i] != "" {
			q.done <- reportOutcome{err: api.Errorf(api.CodeInvalid, "%s", res.Errors[i])}
			continue
		}
		value, _ := json.Marshal(res.Results[i])
		q.done <- reportOutcome{reply: proposeReply{Value: value, Index: reply.Index}}
	}
}

func (b *reportBatcher) fail(batch []*queuedReport, err error) {
	for _, q := range batch {
		q.done <- reportOutcome{err: err}
	}
}
