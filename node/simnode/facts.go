package simnode

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/shoal-project/shoal/api"
)

// A thousand real members each look through every entry for themselves,
// in parallel on a thousand machines. In one process that search, done
// by every simulated member over the same bytes, was 40% of the
// simulator's CPU at 1,000 members; so what any member asks of an entry
// is found once per process (entryFacts) and shared, like the entry's
// decompressed bytes. Each member still decides alone what the facts
// mean for its own tasks.

// entryFacts is what a simulated member needs to know of an entry.
type entryFacts struct {
	taskWrite bool // a task write (the only kind that gives a node work)
	lowers    bool // it stops, orphans or deletes tasks (any node's)
	create    bool // it creates tasks in full (decoded, not read)
	// mentions are the node IDs the entry names anywhere.
	mentions map[string]bool
	// placed are, per node, the tasks the entry assigns to it or spawns
	// placed on it, read from the raw bytes; a node also in unclear is
	// named some other way too, and the entry must be decoded.
	placed  map[string][]string
	unclear map[string]bool

	data       []byte
	decodeOnce sync.Once
	payload    *api.WriteTasksPayload
	decodeErr  error
}

var (
	peerIDPrefix  = []byte("12D3KooW") // every Ed25519 libp2p ID
	lowerKeys     = [][]byte{[]byte(`"desire":[{"task_id":"`), []byte(`"orphan":[{"task_id":"`), []byte(`"delete":["`)}
	taskWriteType = []byte(`"type":"` + string(api.CmdWriteTasks) + `"`)
	createKey     = []byte(`"create":`)
	taskIDKey     = []byte(`{"task_id":"`)
	idKey         = []byte(`{"id":"`)
	nodeIDKey     = []byte(`"node_id":"`)
	placedTail    = []byte(`","desired_state":"running","status":{"state":"assigned"`)
)

// factsOf reads an entry's facts from its raw command bytes.
func factsOf(data []byte) *entryFacts {
	f := &entryFacts{
		data:      data,
		taskWrite: bytes.Contains(data[:min(len(data), 128)], taskWriteType),
		create:    bytes.Contains(data, createKey),
		mentions:  map[string]bool{},
		placed:    map[string][]string{},
		unclear:   map[string]bool{},
	}
	for _, k := range lowerKeys {
		if bytes.Contains(data, k) {
			f.lowers = true
			break
		}
	}
	for off := 0; ; {
		j := bytes.Index(data[off:], peerIDPrefix)
		if j < 0 {
			break
		}
		at := off + j
		end := at + len(peerIDPrefix)
		for end < len(data) && isIDByte(data[end]) {
			end++
		}
		off = end
		id := string(data[at:end])
		f.mentions[id] = true
		if task, ok := placement(data, at, end); ok {
			f.placed[id] = append(f.placed[id], task)
		} else {
			f.unclear[id] = true
		}
	}
	return f
}

func isIDByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// placement reads the task a node ID at data[at:end] is the placement of:
// an assignment, `{"task_id":"T","node_id":"<id>"`, or a task spawned
// placed, `{"id":"T",...,"node_id":"<id>","desired_state":"running",
// "status":{"state":"assigned"` (encoding/json writes the fields in that
// order; a spawned task has no spec between). ok is false when the
// mention is anything else.
func placement(data []byte, at, end int) (task string, ok bool) {
	keyAt := at - len(nodeIDKey)
	if keyAt < 0 || !bytes.Equal(data[keyAt:at], nodeIDKey) {
		return "", false
	}
	var key []byte
	switch {
	case bytes.HasPrefix(data[end:], placedTail):
		key = idKey
	case keyAt >= 2 && data[keyAt-1] == ',' && data[keyAt-2] == '"':
		key = taskIDKey
	default:
		return "", false
	}
	from := max(keyAt-512, 0)
	k := bytes.LastIndex(data[from:keyAt], key)
	if k < 0 {
		return "", false
	}
	id, _, found := bytes.Cut(data[from+k+len(key):keyAt], []byte(`"`))
	if !found {
		return "", false
	}
	return string(id), true
}

// decoded is the entry's task write payload, decoded once for every
// member that needs it; members only read it.
func (f *entryFacts) decoded() (*api.WriteTasksPayload, error) {
	f.decodeOnce.Do(func() {
		var cmd api.Command
		if f.decodeErr = json.Unmarshal(f.data, &cmd); f.decodeErr != nil {
			return
		}
		var p api.WriteTasksPayload
		if f.decodeErr = json.Unmarshal(cmd.Payload, &p); f.decodeErr == nil {
			f.payload = &p
		}
	})
	return f.payload, f.decodeErr
}
