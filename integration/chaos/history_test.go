package chaos

import (
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// The linearizability model: every workload service is a key whose value
// is its spec as the workload sets it (replicas and one env value).

// opKind is an operation on a key.
type opKind uint8

const (
	opCreate opKind = iota // create the service with replicas and env
	opUpdate               // replace the spec (replicas and env)
	opScale                // set replicas only; env stays
	opDelete               // remove the service
	opRead                 // consistent read of the spec
)

var opNames = [...]string{"create", "update", "scale", "delete", "read"}

func (k opKind) String() string { return opNames[k] }

// kvInput is an operation's input.
type kvInput struct {
	Key      string
	Kind     opKind
	Replicas uint64
	Env      string
}

// Operation results.
const (
	resOK       = "ok"
	resNotFound = "not_found"
	resExists   = "exists"
)

// kvOutput is what the client saw. Unknown: the outcome is not known (a
// timeout or a transport error), so the write may or may not have applied.
type kvOutput struct {
	Unknown bool
	Result  string
	// Value read, for opRead.
	Value kvState
}

// kvState is one key's value.
type kvState struct {
	Exists   bool
	Replicas uint64
	Env      string
}

func (s kvState) String() string {
	if !s.Exists {
		return "absent"
	}
	return fmt.Sprintf("r=%d env=%s", s.Replicas, s.Env)
}

// kvModel is a per-key model of the service specs for porcupine.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).Key
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys(byKey) {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		return kvStep(state.(kvState), input.(kvInput), output.(kvOutput))
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		res := out.Result
		if out.Unknown {
			res = "?"
		} else if in.Kind == opRead {
			res = out.Value.String()
		}
		return fmt.Sprintf("%s(%s r=%d env=%s) -> %s", in.Kind, in.Key, in.Replicas, in.Env, res)
	},
	DescribeState: func(state any) string { return state.(kvState).String() },
}

// kvStep applies one operation: a write with an unknown outcome applies as
// it would have; a known result must match the state.
func kvStep(s kvState, in kvInput, out kvOutput) (bool, any) {
	switch in.Kind {
	case opRead:
		return out.Unknown || out.Value == s, s
	case opCreate:
		if out.Unknown {
			if !s.Exists {
				return true, kvState{Exists: true, Replicas: in.Replicas, Env: in.Env}
			}
			return true, s
		}
		if out.Result == resExists {
			return s.Exists, s
		}
		return out.Result == resOK && !s.Exists, kvState{Exists: true, Replicas: in.Replicas, Env: in.Env}
	case opUpdate, opScale, opDelete:
		if !s.Exists {
			return out.Unknown || out.Result == resNotFound, s
		}
		if !out.Unknown && out.Result != resOK {
			return false, s
		}
		switch in.Kind {
		case opUpdate:
			return true, kvState{Exists: true, Replicas: in.Replicas, Env: in.Env}
		case opScale:
			return true, kvState{Exists: true, Replicas: in.Replicas, Env: s.Env}
		default:
			return true, kvState{}
		}
	}
	return false, s
}

// history records operations with their invocation and response times.
type history struct {
	mu    sync.Mutex
	start time.Time
	ops   []porcupine.Operation
}

func newHistory() *history { return &history{start: time.Now()} }

// now is a timestamp on the history's clock (monotonic nanoseconds).
func (h *history) now() int64 { return int64(time.Since(h.start)) }

// opMeta is what the history keeps about an operation besides its input
// and output: the node it went to, and whether it is a final read.
type opMeta struct {
	Node  string
	Final bool
}

// add records an operation invoked at call; an unknown outcome is recorded
// as never returning (porcupine's convention for crashed operations).
func (h *history) add(client int, node string, in kvInput, out kvOutput, call int64, final bool) {
	ret := h.now()
	if out.Unknown && in.Kind != opRead {
		ret = math.MaxInt64
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret, Metadata: opMeta{Node: node, Final: final}})
}

// snapshot returns a copy of the operations.
func (h *history) snapshot() []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]porcupine.Operation(nil), h.ops...)
}

// linResult is the linearizability verdict of a history.
type linResult struct {
	Ops, Unknown int
	Result       porcupine.CheckResult
	// BadKeys are the keys whose histories are not linearizable; LostKeys
	// are those among them that are linearizable without the final reads
	// (the state after healing lost an acknowledged write).
	BadKeys, LostKeys []string
	Info              porcupine.LinearizationInfo
}

// checkLinearizable checks ops key by key within timeout.
func checkLinearizable(ops []porcupine.Operation, timeout time.Duration) linResult {
	r := linResult{Ops: len(ops), Result: porcupine.Ok}
	byKey := map[string][]porcupine.Operation{}
	for _, op := range ops {
		byKey[op.Input.(kvInput).Key] = append(byKey[op.Input.(kvInput).Key], op)
		if op.Output.(kvOutput).Unknown {
			r.Unknown++
		}
	}
	res, info := porcupine.CheckOperationsVerbose(kvModel, ops, timeout)
	r.Result, r.Info = res, info
	if res != porcupine.Illegal {
		return r
	}
	for _, k := range keys(byKey) {
		if porcupine.CheckOperationsTimeout(kvModel, byKey[k], timeout) != porcupine.Illegal {
			continue
		}
		r.BadKeys = append(r.BadKeys, k)
		var noFinal []porcupine.Operation
		for _, op := range byKey[k] {
			if m, _ := op.Metadata.(opMeta); !m.Final {
				noFinal = append(noFinal, op)
			}
		}
		if porcupine.CheckOperationsTimeout(kvModel, noFinal, timeout) == porcupine.Ok {
			r.LostKeys = append(r.LostKeys, k)
		}
	}
	sort.Strings(r.BadKeys)
	return r
}

// describeKey prints a key's operations in call order, for a violation.
func describeKey(ops []porcupine.Operation, key string) string {
	var mine []porcupine.Operation
	for _, op := range ops {
		if op.Input.(kvInput).Key == key {
			mine = append(mine, op)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Call < mine[j].Call })
	out := ""
	for _, op := range mine {
		ret := "  never"
		if op.Return != math.MaxInt64 {
			ret = fmt.Sprintf("%7.3fs", time.Duration(op.Return).Seconds())
		}
		m, _ := op.Metadata.(opMeta)
		out += fmt.Sprintf("    c%-3d %-3s [%7.3fs, %s] %s\n", op.ClientId, m.Node, time.Duration(op.Call).Seconds(), ret,
			kvModel.DescribeOperation(op.Input, op.Output))
	}
	return out
}
