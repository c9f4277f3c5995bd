package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// RequestTTL is how long, in command time, a request ID is remembered: a
// retry within it returns the first result without applying again.
const RequestTTL = 10 * time.Minute

// ApplyResult is what the FSM returns for every command log: the command's
// value, or the typed error that refused it (the state is then unchanged).
type ApplyResult struct {
	Value any
	Err   *api.Error
}

// FSMStats counts reports the FSM ignored. They are local metrics, not
// replicated state.
type FSMStats struct {
	// WrongNodeReports counts task reports from a node other than the
	// task's own.
	WrongNodeReports uint64
	// StaleReports counts task reports that did not move the state forward.
	StaleReports uint64
}

// FSM applies committed commands to a Store. The consensus adapter (package
// raft) hands it Raft's committed logs; the state feed hands it the
// leader's applied entries. Apply is deterministic: its outcome depends on no
// clock and no randomness (command time comes from api.Command.Time; the
// clock is read only to time applies for the observer) and it never
// blocks.
type FSM struct {
	store     *Store
	wrongNode atomic.Uint64
	stale     atomic.Uint64
	// applyMu serialises Raft's applies with the state feed's.
	applyMu sync.Mutex
	// feed keeps recent entries for nodes that follow the state feed.
	feed entryLog
	// events keeps recent events derived from applied entries.
	events eventRing
	// halt, when set, is called with a log entry this build cannot apply
	// (an unknown command type or a newer encoding); it is expected to
	// stop the process, so the replica never applies the log differently
	// from nodes that know the command. Unset (tests), the entry gets an
	// error result.
	halt func(index uint64, err error)
	// observer, if set, receives apply timings; snapshots counts Snapshot
	// calls. Both are local metrics and change nothing applied.
	observer  ApplyObserver
	snapshots atomic.Uint64
	// dirty holds the reconcilers' change trackers.
	dirty dirtyTrackers
}

// ApplyObserver receives the time each known command took to apply, e.g.
// for metrics. It must be quick and must not block: it runs on the apply
// path.
type ApplyObserver interface {
	Applied(typ api.CommandType, d time.Duration)
}

// SetObserver sets who receives apply timings. Call it before the FSM
// applies anything.
func (f *FSM) SetObserver(o ApplyObserver) { f.observer = o }

// SnapshotCount is how many snapshots the FSM has taken.
func (f *FSM) SnapshotCount() uint64 { return f.snapshots.Load() }

// SetHalt sets what happens when a log entry this build does not know is
// committed (see FSM.halt). Call it before the FSM applies anything.
func (f *FSM) SetHalt(halt func(index uint64, err error)) { f.halt = halt }

// NewFSM returns an FSM that writes into store.
func NewFSM(store *Store) *FSM { return &FSM{store: store} }

// Store returns the store the FSM writes.
func (f *FSM) Store() *Store { return f.store }

// Stats returns the counts of ignored task reports.
func (f *FSM) Stats() FSMStats {
	return FSMStats{WrongNodeReports: f.wrongNode.Load(), StaleReports: f.stale.Load()}
}

// Apply applies one committed command entry and returns its result.
func (f *FSM) Apply(e Entry) *ApplyResult { return f.ApplyBatch([]Entry{e}, e.Index)[0] }

// ApplyBatch applies committed command entries in order, records last (the
// highest log index of the batch, which may be a log that carried no
// command, such as a configuration change) as applied, and wakes store
// watchers once. It returns one result per entry.
func (f *FSM) ApplyBatch(entries []Entry, last uint64) []*ApplyResult {
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	out := make([]*ApplyResult, len(entries))
	for i, e := range entries {
		if e.Index <= f.store.AppliedIndex() {
			// Already applied from the state feed before this node became
			// a Raft server; the state is the same either way.
			out[i] = &ApplyResult{}
			continue
		}
		out[i] = f.applyEntry(e)
	}
	f.store.advance(last)
	return out
}

// applyEntry applies one entry, appends it to the feed window and only
// then hands its changes to the trackers: whoever a tracker tells of the
// change finds the entry in the window (see node's feedWaker).
func (f *FSM) applyEntry(e Entry) *ApplyResult {
	res, touches := f.applyData(e.Index, e.Data)
	f.feed.append(e)
	f.markDirty(touches)
	return res
}

// applyData decodes and applies one command; every outcome, including
// garbage input and a bug that panics, becomes an *ApplyResult. It
// returns what the command changed too.
func (f *FSM) applyData(index uint64, data []byte) (res *ApplyResult, touches changed) {
	cmd, aerr, unknown := decodeCommand(data)
	if aerr != nil {
		if unknown != nil && f.halt != nil {
			f.halt(index, unknown)
		}
		return &ApplyResult{Err: aerr}, changed{}
	}
	txn := f.store.writeTxn()
	txn.TrackChanges()
	defer func() {
		if r := recover(); r != nil {
			txn.Abort()
			res = &ApplyResult{Err: api.Errorf(api.CodeInternal, "applying %s: internal error: %v", cmd.Type, r)}
			touches = changed{}
		}
	}()
	if rec := lookupRequest(txn, cmd); rec != nil {
		pruneRequests(txn, cmd.Time)
		f.store.commit(txn, index)
		return rec, changed{}
	}
	start := time.Now() // for the observer only: apply's outcome never depends on it
	val, aerr := f.dispatch(txn, cmd)
	if f.observer != nil {
		f.observer.Applied(cmd.Type, time.Since(start))
	}
	var evs []api.Event
	if aerr != nil {
		txn.Abort()
		txn = f.store.writeTxn()
		val = nil
	} else {
		changes := txn.Changes()
		evs = safeDeriveEvents(txn, changes, index, cmd.Time)
		touches = touched(changes)
	}
	pruneRequests(txn, cmd.Time)
	recordRequest(txn, cmd, val, aerr)
	f.store.commit(txn, index)
	f.events.append(evs)
	return &ApplyResult{Value: val, Err: aerr}, touches
}

// DecodeCommand parses a log entry into a command and checks its envelope:
// a known type, a version this build understands, and a command time.
func DecodeCommand(data []byte) (*api.Command, *api.Error) {
	cmd, aerr, _ := decodeCommand(data)
	return cmd, aerr
}

// decodeCommand is DecodeCommand that also reports whether a refused
// entry is a well-formed command this build does not know (a newer type
// or encoding), as opposed to garbage.
func decodeCommand(data []byte) (*api.Command, *api.Error, error) {
	var cmd api.Command
	if err := json.Unmarshal(data, &cmd); err != nil {
		return nil, api.Errorf(api.CodeInvalid, "command is not valid JSON: %v", err), nil
	}
	unknown := func() error {
		if cmd.Time.IsZero() {
			return nil
		}
		return api.ErrUnknownCommand(cmd.Type, cmd.Version)
	}
	switch {
	case cmd.Version > api.CommandVersion:
		return nil, api.Errorf(api.CodeInvalid, "command version %d is newer than this build understands (%d)", cmd.Version, api.CommandVersion), unknown()
	case cmd.Version < 1:
		return nil, api.Errorf(api.CodeInvalid, "command version %d is invalid", cmd.Version), nil
	case cmd.Time.IsZero():
		return nil, api.Errorf(api.CodeInvalid, "command %q has no time", cmd.Type), nil
	}
	if _, ok := handlers[cmd.Type]; !ok {
		return nil, api.Errorf(api.CodeInvalid, "unknown command type %q", cmd.Type), unknown()
	}
	return &cmd, nil, nil
}

// handler applies one command type inside a write transaction. It returns
// the command's value or a typed error; on error the transaction is aborted.
type handler struct {
	apply func(f *FSM, txn *memdb.Txn, cmd *api.Command) (any, *api.Error)
	// result makes an empty value of the type apply returns, to decode a
	// stored result into.
	result func() any
}

// handlers maps every command type to its handler. It is filled in init
// because handlers refer to FSM methods.
var handlers map[api.CommandType]handler

func init() {
	cluster := func() any { return new(api.Cluster) }
	node := func() any { return new(api.Node) }
	service := func() any { return new(api.Service) }
	handlers = map[api.CommandType]handler{
		api.CmdBootstrap:             {(*FSM).applyBootstrap, cluster},
		api.CmdRotateToken:           {(*FSM).applyRotateToken, cluster},
		api.CmdRegisterNode:          {(*FSM).applyRegisterNode, node},
		api.CmdSetNodeStatus:         {(*FSM).applySetNodeStatus, node},
		api.CmdUpdateNode:            {(*FSM).applyUpdateNode, node},
		api.CmdRemoveNode:            {(*FSM).applyRemoveNode, node},
		api.CmdNodeRestarting:        {(*FSM).applyNodeRestarting, node},
		api.CmdSetRaftRoles:          {(*FSM).applySetRaftRoles, func() any { return new(int) }},
		api.CmdCreateService:         {(*FSM).applyCreateService, service},
		api.CmdUpdateService:         {(*FSM).applyUpdateService, service},
		api.CmdRemoveService:         {(*FSM).applyRemoveService, service},
		api.CmdRollbackService:       {(*FSM).applyRollbackService, service},
		api.CmdPromoteService:        {(*FSM).applyPromoteService, service},
		api.CmdWriteTasks:            {(*FSM).applyWriteTasks, func() any { return new(WriteTasksResult) }},
		api.CmdReportTaskStatus:      {(*FSM).applyReportTaskStatus, func() any { return new(ReportTaskStatusResult) }},
		api.CmdReportTaskStatusBatch: {(*FSM).applyReportTaskStatusBatch, func() any { return new(ReportTaskStatusBatchResult) }},
		api.CmdReportImages:          {(*FSM).applyReportImages, func() any { return new(int) }},
		api.CmdRemoveImage:           {(*FSM).applyRemoveImage, func() any { return new(int) }},
		api.CmdCreateACLToken:        {(*FSM).applyCreateACLToken, func() any { return new(api.ACLToken) }},
		api.CmdRevokeACLToken:        {(*FSM).applyRevokeACLToken, func() any { return new(api.ACLToken) }},
		api.CmdCreateSecret:          {(*FSM).applyCreateSecret, func() any { return new(api.SecretInfo) }},
		api.CmdRotateKeys:            {(*FSM).applyRotateKeys, cluster},
		api.CmdRemoveSecret:          {(*FSM).applyRemoveSecret, func() any { return new(api.SecretInfo) }},
	}
}

func (f *FSM) dispatch(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	return handlers[cmd.Type].apply(f, txn, cmd)
}

// decodePayload decodes a command's payload into p.
func decodePayload(cmd *api.Command, p any) *api.Error {
	if len(cmd.Payload) == 0 {
		return api.Errorf(api.CodeInvalid, "command %s has no payload", cmd.Type)
	}
	if err := json.Unmarshal(cmd.Payload, p); err != nil {
		return api.Errorf(api.CodeInvalid, "command %s has a bad payload: %v", cmd.Type, err)
	}
	return nil
}

// insert writes obj into table; memdb only fails on schema misuse.
func insert(txn *memdb.Txn, table string, obj any) *api.Error {
	if err := txn.Insert(table, obj); err != nil {
		return api.Errorf(api.CodeInternal, "writing %s: %v", table, err)
	}
	return nil
}

// remove deletes obj from table.
func remove(txn *memdb.Txn, table string, obj any) *api.Error {
	if err := txn.Delete(table, obj); err != nil {
		return api.Errorf(api.CodeInternal, "deleting from %s: %v", table, err)
	}
	return nil
}

// lookupRequest returns the stored result of a request ID seen within
// RequestTTL of cmd's time, or nil.
func lookupRequest(txn *memdb.Txn, cmd *api.Command) *ApplyResult {
	if cmd.RequestID == "" {
		return nil
	}
	rec, ok := first[RequestRecord](txn, tableRequests, indexID, cmd.RequestID)
	if !ok || rec.Time.Before(cmd.Time.Add(-RequestTTL)) {
		return nil
	}
	if rec.Type != cmd.Type {
		return &ApplyResult{Err: api.Errorf(api.CodeConflict, "request id %q was already used for a %s command", cmd.RequestID, rec.Type)}
	}
	res := &ApplyResult{Err: rec.Err}
	if len(rec.Value) > 0 && !bytes.Equal(rec.Value, []byte("null")) {
		v := handlers[rec.Type].result()
		if err := json.Unmarshal(rec.Value, v); err != nil {
			return &ApplyResult{Err: api.Errorf(api.CodeInternal, "stored result of request %q is unreadable: %v", cmd.RequestID, err)}
		}
		res.Value = v
	}
	return res
}

// recordRequest stores the result of a command that carries a request ID.
func recordRequest(txn *memdb.Txn, cmd *api.Command, val any, aerr *api.Error) {
	if cmd.RequestID == "" {
		return
	}
	rec := &RequestRecord{ID: cmd.RequestID, Type: cmd.Type, Time: cmd.Time, Err: aerr}
	if val != nil {
		b, err := json.Marshal(val)
		if err != nil {
			rec.Err = api.Errorf(api.CodeInternal, "result of request %q is not encodable: %v", cmd.RequestID, err)
		} else {
			rec.Value = b
		}
	}
	if err := txn.Insert(tableRequests, rec); err != nil {
		panic(fmt.Sprintf("raft: recording request %q: %v", cmd.RequestID, err))
	}
}

// pruneRequests forgets request records older than RequestTTL before now
// (command time). Records are ordered by time, so it stops at the first
// one that is still fresh.
func pruneRequests(txn *memdb.Txn, now time.Time) {
	cutoff := now.Add(-RequestTTL)
	it, err := txn.Get(tableRequests, indexTime)
	if err != nil {
		return
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		rec := raw.(*RequestRecord)
		if !rec.Time.Before(cutoff) {
			return
		}
		if err := txn.Delete(tableRequests, rec); err != nil {
			panic(fmt.Sprintf("raft: pruning request %q: %v", rec.ID, err))
		}
	}
}
