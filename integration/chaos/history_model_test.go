package chaos

import (
	"math"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// op builds an operation for model tests; ret < 0 means it never returned.
func op(client int, call, ret int64, in kvInput, out kvOutput) porcupine.Operation {
	if ret < 0 {
		ret = math.MaxInt64
	}
	return porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret, Metadata: opMeta{}}
}

func read(key string, s kvState) (kvInput, kvOutput) {
	return kvInput{Key: key, Kind: opRead}, kvOutput{Result: resOK, Value: s}
}

// TestKVModel: the model accepts linearizable histories, including writes
// with unknown outcomes, and rejects stale reads, lost updates and
// impossible results.
func TestKVModel(t *testing.T) {
	ok := kvOutput{Result: resOK}
	unknown := kvOutput{Unknown: true}
	create := kvInput{Key: "a", Kind: opCreate, Replicas: 1, Env: "v1"}
	update := kvInput{Key: "a", Kind: opUpdate, Replicas: 2, Env: "v2"}
	scale := kvInput{Key: "a", Kind: opScale, Replicas: 3}
	del := kvInput{Key: "a", Kind: opDelete}
	rIn, rV1 := read("a", kvState{true, 1, "v1"})
	_, rV2 := read("a", kvState{true, 2, "v2"})
	_, rScaled := read("a", kvState{true, 3, "v2"})
	_, rAbsent := read("a", kvState{})
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want bool
	}{
		{"sequential", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, 3, update, ok), op(0, 4, 5, scale, ok), op(1, 6, 7, rIn, rScaled)}, true},
		{"concurrent read sees either", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, 6, update, ok), op(1, 3, 4, rIn, rV1)}, true},
		{"stale read", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, 3, update, ok), op(1, 4, 5, rIn, rV1)}, false},
		{"scale loses the env", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, 3, update, ok), op(1, 4, 5, scale, ok),
			op(1, 6, 7, rIn, kvOutput{Result: resOK, Value: kvState{true, 3, "v1"}})}, false},
		{"unknown write applied later", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, -1, update, unknown), op(1, 10, 11, rIn, rV2)}, true},
		{"unknown write never applied", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, -1, update, unknown), op(1, 10, 11, rIn, rV1)}, true},
		{"unknown write cannot flip back", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, -1, update, unknown), op(1, 10, 11, rIn, rV2), op(1, 12, 13, rIn, rV1)}, false},
		{"acked delete lost", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, 3, del, ok), op(1, 4, 5, rIn, rV1)}, false},
		{"delete of absent is not_found", []porcupine.Operation{op(0, 0, 1, del, kvOutput{Result: resNotFound}), op(0, 2, 3, rIn, rAbsent)}, true},
		{"delete twice both ok", []porcupine.Operation{op(0, 0, 1, create, ok), op(0, 2, 3, del, ok), op(0, 4, 5, del, ok)}, false},
		{"create of existing is exists", []porcupine.Operation{op(0, 0, 1, create, ok), op(1, 2, 3, create, kvOutput{Result: resExists})}, true},
		{"update of absent cannot succeed", []porcupine.Operation{op(0, 0, 1, update, ok)}, false},
	}
	for _, tc := range cases {
		if got := porcupine.CheckOperations(kvModel, tc.ops); got != tc.want {
			t.Errorf("%s: linearizable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestLostKeysNamesTheFinalRead: a history that is linearizable until the
// final read after healing reports the key as having lost a write.
func TestLostKeysNamesTheFinalRead(t *testing.T) {
	ok := kvOutput{Result: resOK}
	rIn, rV1 := read("b", kvState{true, 1, "v1"})
	final := op(2, 10, 11, rIn, rV1)
	final.Metadata = opMeta{Final: true}
	ops := []porcupine.Operation{
		op(0, 0, 1, kvInput{Key: "b", Kind: opCreate, Replicas: 1, Env: "v1"}, ok),
		op(0, 2, 3, kvInput{Key: "b", Kind: opUpdate, Replicas: 1, Env: "v2"}, ok),
		op(1, 0, 1, kvInput{Key: "c", Kind: opCreate, Replicas: 1, Env: "x"}, ok),
		final,
	}
	r := checkLinearizable(ops, 10*time.Second)
	if r.Result != porcupine.Illegal || len(r.BadKeys) != 1 || r.BadKeys[0] != "b" || len(r.LostKeys) != 1 {
		t.Fatalf("result %v bad %v lost %v", r.Result, r.BadKeys, r.LostKeys)
	}
	if d := describeKey(ops, "b"); d == "" {
		t.Fatal("no description")
	}
}
