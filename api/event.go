package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// EventType is what an event is about.
type EventType string

// Event types, the values of the ?type= filter.
const (
	EventService EventType = "service"
	EventTask    EventType = "task"
	EventNode    EventType = "node"
	EventCluster EventType = "cluster"
)

// EventTypes lists every event type, in display order.
var EventTypes = []EventType{EventService, EventTask, EventNode, EventCluster}

// Event is one change to the replicated state, as GET /v1/events streams
// it, one JSON object a line. Events are derived from committed log
// entries, so every node reports the same events with the same indexes;
// one entry may yield several events, which share its index.
type Event struct {
	// Index is the Raft index of the entry that made the change. For a
	// local event it is the index this node had applied when it saw it.
	Index uint64 `json:"index"`
	// Time is the command time the leader stamped on the entry (for a
	// local event, this node's clock).
	Time   time.Time `json:"time"`
	Type   EventType `json:"type"`
	Action string    `json:"action"`
	// ID is the service, task or node ID (empty for cluster events).
	ID string `json:"id,omitempty"`
	// Name is the service name, the task's name (service.slot) or the
	// node name.
	Name string `json:"name,omitempty"`
	// Service is the service name of service and task events.
	Service string `json:"service,omitempty"`
	// Node is the node name of node events and of assigned task events.
	Node string `json:"node,omitempty"`
	// Attrs holds details: state, desired, error, version, role, term...
	Attrs map[string]string `json:"attrs,omitempty"`
	// Local marks an event that is not replicated: a leader this node's
	// Raft server observed. Only Raft servers report them, and a resume
	// with ?since does not replay them on another node.
	Local bool `json:"local,omitempty"`
}

// EventStreamEnd is the last line of an event stream the server cut off:
// {"error": "..."}; Resume is the index to pass as ?since to continue.
type EventStreamEnd struct {
	Error  string `json:"error"`
	Resume uint64 `json:"resume,omitempty"`
}

// EventFilter selects events; empty fields match everything.
type EventFilter struct {
	Types   []EventType
	Service string
	Node    string
	// Since, when set, resumes after that index; otherwise the stream
	// starts with the next change.
	Since *uint64
}

// Match reports whether e passes the filter (Since is not checked).
func (f *EventFilter) Match(e *Event) bool {
	if len(f.Types) > 0 {
		ok := false
		for _, t := range f.Types {
			ok = ok || t == e.Type
		}
		if !ok {
			return false
		}
	}
	if f.Service != "" && e.Service != f.Service {
		return false
	}
	if f.Node != "" && e.Node != f.Node {
		return false
	}
	return true
}

// Query encodes the filter as GET /v1/events parameters.
func (f *EventFilter) Query() url.Values {
	q := url.Values{}
	for _, t := range f.Types {
		q.Add("type", string(t))
	}
	if f.Service != "" {
		q.Set("service", f.Service)
	}
	if f.Node != "" {
		q.Set("node", f.Node)
	}
	if f.Since != nil {
		q.Set("since", strconv.FormatUint(*f.Since, 10))
	}
	return q
}

// ParseEventFilter reads GET /v1/events parameters: type (repeatable or
// a comma list), service, node and since. Errors are one line.
func ParseEventFilter(q url.Values) (EventFilter, error) {
	var f EventFilter
	for k := range q {
		switch k {
		case "type", "service", "node", "since":
		default:
			return f, fmt.Errorf("unknown event filter %q (want type, service, node or since)", k)
		}
	}
	for _, v := range q["type"] {
		for _, t := range strings.Split(v, ",") {
			typ, err := ParseEventType(strings.TrimSpace(t))
			if err != nil {
				return f, err
			}
			f.Types = append(f.Types, typ)
		}
	}
	for _, k := range []string{"service", "node", "since"} {
		if len(q[k]) > 1 {
			return f, fmt.Errorf("event filter %s is given %d times; give it once", k, len(q[k]))
		}
	}
	f.Service, f.Node = q.Get("service"), q.Get("node")
	if v := q.Get("since"); v != "" || q.Has("since") {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return f, fmt.Errorf("since: %q is not a Raft index (a non-negative integer)", v)
		}
		f.Since = &n
	}
	return f, nil
}

// ParseEventType reads an event type name.
func ParseEventType(s string) (EventType, error) {
	for _, t := range EventTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown event type %q (want service, task, node or cluster)", s)
}
