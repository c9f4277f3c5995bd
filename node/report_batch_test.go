package node

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// fakeReportLog stands in for the leader's Raft: it records the commands
// committed and answers as the FSM would. While blocked is open, commits
// wait on it, so reports pile up behind one in flight.
type fakeReportLog struct {
	mu      sync.Mutex
	cmds    []api.Command
	blocked chan struct{}
	fail    error
}

func (f *fakeReportLog) commit(ctx context.Context, cmd api.Command) (proposeReply, error) {
	if f.blocked != nil {
		select {
		case <-f.blocked:
		case <-ctx.Done():
			return proposeReply{}, ctx.Err()
		}
	}
	f.mu.Lock()
	f.cmds = append(f.cmds, cmd)
	f.mu.Unlock()
	if f.fail != nil {
		return proposeReply{}, f.fail
	}
	var value any
	switch cmd.Type {
	case api.CmdReportTaskStatus:
		var p api.ReportTaskStatusPayload
		json.Unmarshal(cmd.Payload, &p)
		value = state.ReportTaskStatusResult{Applied: len(p.Updates)}
	case api.CmdReportTaskStatusBatch:
		var p api.ReportTaskStatusBatchPayload
		json.Unmarshal(cmd.Payload, &p)
		res := state.ReportTaskStatusBatchResult{Errors: make([]string, len(p.Reports))}
		for i, r := range p.Reports {
			res.Results = append(res.Results, state.ReportTaskStatusResult{Applied: len(r.Updates)})
			if r.NodeID == "refused" {
				res.Errors[i] = "refused by the fake"
			}
		}
		value = res
	}
	raw, _ := json.Marshal(value)
	return proposeReply{Value: raw, Index: 7}, nil
}

func (f *fakeReportLog) types() []api.CommandType {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.CommandType
	for _, c := range f.cmds {
		out = append(out, c.Type)
	}
	return out
}

func reportCmd(t *testing.T, node string, updates int) api.Command {
	t.Helper()
	p := api.ReportTaskStatusPayload{NodeID: node}
	for i := range updates {
		p.Updates = append(p.Updates, api.TaskStatusUpdate{TaskID: fmt.Sprintf("%s-t%d", node, i), Status: api.TaskStatus{State: api.TaskRunning}})
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return api.Command{Type: api.CmdReportTaskStatus, RequestID: api.NewRequestID(), Payload: raw}
}

func startBatcher(t *testing.T, f *fakeReportLog, canBatch bool) *reportBatcher {
	t.Helper()
	b := newReportBatcher(f.commit, func(api.Command) bool { return canBatch })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return b
}

// submitAll submits one report per node concurrently and returns each
// node's outcome.
func submitAll(b *reportBatcher, cmds map[string]api.Command) map[string]reportOutcome {
	var mu sync.Mutex
	out := map[string]reportOutcome{}
	var wg sync.WaitGroup
	for node, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			reply, err := b.submit(ctx, cmd)
			mu.Lock()
			out[node] = reportOutcome{reply, err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// TestReportBatcherAloneWhenIdle: a report that finds nothing in flight
// is committed at once as its own task.report.
func TestReportBatcherAloneWhenIdle(t *testing.T) {
	f := &fakeReportLog{}
	b := startBatcher(t, f, true)
	reply, err := b.submit(context.Background(), reportCmd(t, "n1", 3))
	if err != nil {
		t.Fatal(err)
	}
	var res state.ReportTaskStatusResult
	if err := json.Unmarshal(reply.Value, &res); err != nil || res.Applied != 3 {
		t.Fatalf("reply %s (%v)", reply.Value, err)
	}
	if got := f.types(); len(got) != 1 || got[0] != api.CmdReportTaskStatus {
		t.Fatalf("committed %v, want one task.report", got)
	}
}

// TestReportBatcherGathersUnderLoad: reports that arrive while commits
// are in flight go out together in one batch entry, and each node gets
// its own outcome back (a refused report only fails its own sender).
func TestReportBatcherGathersUnderLoad(t *testing.T) {
	f := &fakeReportLog{blocked: make(chan struct{})}
	b := startBatcher(t, f, true)
	first := fillSlots(t, b)
	cmds := map[string]api.Command{}
	for i := range 20 {
		cmds[fmt.Sprintf("n%02d", i)] = reportCmd(t, fmt.Sprintf("n%02d", i), i+1)
	}
	cmds["refused"] = reportCmd(t, "refused", 1)
	results := make(chan map[string]reportOutcome, 1)
	go func() { results <- submitAll(b, cmds) }()
	eventually(t, 5*time.Second, "21 reports waiting (one taken by the loop)", func() bool { return len(b.queue) == 20 })
	close(f.blocked)
	out := <-results
	for range reportsInFlight {
		if o := <-first; o.err != nil {
			t.Fatal(o.err)
		}
	}
	for node, o := range out {
		if node == "refused" {
			if o.err == nil || api.CodeOf(o.err) != api.CodeInvalid {
				t.Fatalf("refused report: %v, want its own refusal", o.err)
			}
			continue
		}
		var res state.ReportTaskStatusResult
		if o.err != nil || json.Unmarshal(o.reply.Value, &res) != nil || res.Applied != updatesOf(t, cmds[node]) || o.reply.Index != 7 {
			t.Fatalf("%s: reply %s, err %v", node, o.reply.Value, o.err)
		}
	}
	if got := f.types(); len(got) != reportsInFlight+1 || countType(got, api.CmdReportTaskStatusBatch) != 1 {
		t.Fatalf("committed %v, want %d single reports and one batch of 21", got, reportsInFlight)
	}
}

// TestReportBatcherWithoutProtocol: with a node that cannot apply the
// batch command, gathered reports are committed one entry each.
func TestReportBatcherWithoutProtocol(t *testing.T) {
	f := &fakeReportLog{blocked: make(chan struct{})}
	b := startBatcher(t, f, false)
	cmds := map[string]api.Command{}
	for i := range 2*reportsInFlight + 3 {
		cmds[fmt.Sprintf("n%d", i)] = reportCmd(t, fmt.Sprintf("n%d", i), 1)
	}
	first := fillSlots(t, b)
	results := make(chan map[string]reportOutcome, 1)
	go func() { results <- submitAll(b, cmds) }()
	eventually(t, 5*time.Second, "reports queued behind the slots", func() bool { return len(b.queue) == len(cmds)-1 })
	close(f.blocked)
	for range reportsInFlight {
		<-first
	}
	for node, o := range <-results {
		if o.err != nil {
			t.Fatalf("%s: %v", node, o.err)
		}
	}
	for _, typ := range f.types() {
		if typ != api.CmdReportTaskStatus {
			t.Fatalf("committed %v without the protocol for batches", f.types())
		}
	}
	if n := len(f.types()); n != len(cmds)+reportsInFlight {
		t.Fatalf("%d entries for %d reports", n, len(cmds))
	}
}

// TestReportBatcherFailureReachesEveryone: a batch that fails to commit
// fails every report in it, so each node reports again.
func TestReportBatcherFailureReachesEveryone(t *testing.T) {
	f := &fakeReportLog{blocked: make(chan struct{}), fail: api.Errorf(api.CodeNoLeader, "not the leader")}
	b := startBatcher(t, f, true)
	cmds := map[string]api.Command{}
	for i := range 6 {
		cmds[fmt.Sprintf("n%d", i)] = reportCmd(t, fmt.Sprintf("n%d", i), 1)
	}
	first := fillSlots(t, b)
	results := make(chan map[string]reportOutcome, 1)
	go func() { results <- submitAll(b, cmds) }()
	eventually(t, 5*time.Second, "reports queued behind the slots", func() bool { return len(b.queue) == len(cmds)-1 })
	close(f.blocked)
	for range reportsInFlight {
		<-first
	}
	for node, o := range <-results {
		if api.CodeOf(o.err) != api.CodeNoLeader {
			t.Fatalf("%s: %v, want the commit's error", node, o.err)
		}
	}
	if got := f.types(); len(got) != reportsInFlight+1 || countType(got, api.CmdReportTaskStatusBatch) != 1 {
		t.Fatalf("committed %v, want %d single reports and the failing batch", got, reportsInFlight)
	}
}

func updatesOf(t *testing.T, cmd api.Command) int {
	var p api.ReportTaskStatusPayload
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return len(p.Updates)
}

// slotsBusy reports whether every commit slot is taken.
func slotsBusy(b *reportBatcher) bool { return len(b.slots) == cap(b.slots) }

// fillSlots takes every commit slot with a report of its own that waits
// on the fake's Raft, and returns where their outcomes arrive.
func fillSlots(t *testing.T, b *reportBatcher) chan reportOutcome {
	t.Helper()
	out := make(chan reportOutcome, reportsInFlight)
	for i := range reportsInFlight {
		go func() {
			reply, err := b.submit(context.Background(), reportCmd(t, fmt.Sprintf("early%d", i), 1))
			out <- reportOutcome{reply, err}
		}()
		eventually(t, 5*time.Second, "a commit slot taken", func() bool { return len(b.queue) == 0 && len(b.slots) == i+1 })
	}
	return out
}

func countType(types []api.CommandType, typ api.CommandType) int {
	n := 0
	for _, t := range types {
		if t == typ {
			n++
		}
	}
	return n
}
