package state

import (
	"bytes"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// deriveEvents turns the changes one committed command made (memdb's
// change tracking, in the order of their last write) into events. It is a
// pure function of the changes and the transaction's state, so every
// replica derives the same events for the same entry.
func deriveEvents(txn *memdb.Txn, changes memdb.Changes, index uint64, when time.Time) []api.Event {
	var out []api.Event
	emit := func(e api.Event) {
		e.Index, e.Time = index, when
		out = append(out, e)
	}
	for _, c := range changes {
		switch c.Table {
		case tableServices:
			serviceEvents(c, emit)
		case tableTasks:
			taskEvents(txn, c, emit)
		case tableNodes:
			nodeEvents(c, emit)
		case tableCluster:
			clusterEvents(c, emit)
		case tableACL:
			tokenEvents(c, emit)
		case tableSecrets:
			secretEvents(c, emit)
		}
	}
	return out
}

func serviceEvents(c memdb.Change, emit func(api.Event)) {
	before, _ := c.Before.(*api.Service)
	after, _ := c.After.(*api.Service)
	switch {
	case before == nil && after != nil:
		emit(serviceEvent(after, "create"))
	case before != nil && after == nil:
		emit(serviceEvent(before, "remove"))
	case before != nil && after != nil && after.Version != before.Version:
		emit(serviceEvent(after, "update"))
	}
	if after != nil && after.UpdateStatus != nil && (before == nil || before.UpdateStatus == nil || *before.UpdateStatus != *after.UpdateStatus) {
		// A rolling update started, paused, completed or rolled back.
		e := serviceEvent(after, "update_state")
		e.Attrs["state"], e.Attrs["message"] = after.UpdateStatus.State, after.UpdateStatus.Message
		emit(e)
	}
}

func serviceEvent(s *api.Service, action string) api.Event {
	return api.Event{Type: api.EventService, Action: action, ID: s.ID, Name: s.Spec.Name, Service: s.Spec.Name,
		Attrs: map[string]string{"version": strconv.FormatUint(s.Version, 10)}}
}

// taskEvents reports a task's creation, removal, desired-state change and
// each observed state it reaches (the action is the state's name).
func taskEvents(txn *memdb.Txn, c memdb.Change, emit func(api.Event)) {
	before, _ := c.Before.(*api.Task)
	after, _ := c.After.(*api.Task)
	switch {
	case after == nil && before != nil:
		emit(taskEvent(txn, before, "remove", nil))
		return
	case after == nil:
		return
	case before == nil:
		emit(taskEvent(txn, after, "create", map[string]string{"desired": after.DesiredState.String()}))
		if after.Status.State != api.TaskNew {
			emit(taskEvent(txn, after, after.Status.State.String(), statusAttrs(after)))
		}
		return
	}
	if after.DesiredState != before.DesiredState {
		emit(taskEvent(txn, after, "desired", map[string]string{"desired": after.DesiredState.String()}))
	}
	if after.Status.State != before.Status.State {
		emit(taskEvent(txn, after, after.Status.State.String(), statusAttrs(after)))
	}
}

func taskEvent(txn *memdb.Txn, t *api.Task, action string, attrs map[string]string) api.Event {
	e := api.Event{Type: api.EventTask, Action: action, ID: t.ID, Name: fmt.Sprintf("%s.%d", t.ServiceName, t.Slot),
		Service: t.ServiceName, Attrs: attrs}
	if t.NodeID != "" {
		e.Node = t.NodeID
		if n, ok := nodeTxn(txn, t.NodeID); ok {
			e.Node = n.Name
		}
	}
	return e
}

func statusAttrs(t *api.Task) map[string]string {
	a := map[string]string{"state": t.Status.State.String()}
	if t.Status.Message != "" {
		a["message"] = t.Status.Message
	}
	if t.Status.Err != "" {
		a["error"] = t.Status.Err
	}
	if t.Status.ExitCode != nil {
		a["exit_code"] = strconv.Itoa(*t.Status.ExitCode)
	}
	return a
}

// nodeEvents reports registration, removal, status (up, down,
// restarting), Raft role and operator changes (availability, labels).
func nodeEvents(c memdb.Change, emit func(api.Event)) {
	before, _ := c.Before.(*api.Node)
	after, _ := c.After.(*api.Node)
	switch {
	case after == nil && before != nil:
		emit(nodeEvent(before, "remove", nil))
		return
	case after == nil:
		return
	case before == nil:
		emit(nodeEvent(after, "register", map[string]string{"status": string(after.Status)}))
		return
	}
	if after.Status != before.Status {
		action := map[api.NodeStatus]string{api.NodeReady: "up", api.NodeDown: "down"}[after.Status]
		if action == "" {
			action = string(after.Status)
		}
		emit(nodeEvent(after, action, map[string]string{"status": string(after.Status)}))
	}
	if after.RaftRole != before.RaftRole {
		emit(nodeEvent(after, "role", map[string]string{"role": string(after.RaftRole)}))
	}
	if after.Availability != before.Availability || !maps.Equal(after.Labels, before.Labels) {
		emit(nodeEvent(after, "update", map[string]string{"availability": string(after.Availability)}))
	}
}

func nodeEvent(n *api.Node, action string, attrs map[string]string) api.Event {
	return api.Event{Type: api.EventNode, Action: action, ID: n.ID, Name: n.Name, Node: n.Name, Attrs: attrs}
}

// clusterEvents reports the bootstrap, join-token rotations and the steps
// of a key rotation.
func clusterEvents(c memdb.Change, emit func(api.Event)) {
	before, _ := c.Before.(*api.Cluster)
	after, _ := c.After.(*api.Cluster)
	if before == nil && after != nil {
		emit(api.Event{Type: api.EventCluster, Action: "bootstrap", ID: after.ID})
		return
	}
	if before == nil || after == nil {
		return
	}
	switch {
	case len(after.GossipKeyNext) > 0 && len(before.GossipKeyNext) == 0:
		emit(api.Event{Type: api.EventCluster, Action: "keys_install", ID: after.ID})
	case !bytes.Equal(before.SigningKey, after.SigningKey):
		emit(api.Event{Type: api.EventCluster, Action: "keys_switch", ID: after.ID})
	case len(before.GossipKeyPrev) > 0 && len(after.GossipKeyPrev) == 0:
		emit(api.Event{Type: api.EventCluster, Action: "keys_drop", ID: after.ID})
	}
	if !bytes.Equal(before.TokenNonce, after.TokenNonce) {
		emit(api.Event{Type: api.EventCluster, Action: "token_rotate", ID: after.ID})
	}
}

// tokenEvents reports API tokens created and revoked (names and roles,
// never secrets), so an audit can follow who was given access.
func tokenEvents(c memdb.Change, emit func(api.Event)) {
	before, _ := c.Before.(*api.ACLToken)
	after, _ := c.After.(*api.ACLToken)
	switch {
	case before == nil && after != nil:
		emit(api.Event{Type: api.EventCluster, Action: "acl_token_create", ID: after.ID, Name: after.Name, Attrs: map[string]string{"role": string(after.Role)}})
	case before != nil && after == nil:
		emit(api.Event{Type: api.EventCluster, Action: "acl_token_revoke", ID: before.ID, Name: before.Name, Attrs: map[string]string{"role": string(before.Role)}})
	}
}

// secretEvents reports secrets created and removed (names only).
func secretEvents(c memdb.Change, emit func(api.Event)) {
	before, _ := c.Before.(*api.Secret)
	after, _ := c.After.(*api.Secret)
	switch {
	case before == nil && after != nil:
		emit(api.Event{Type: api.EventCluster, Action: "secret_create", ID: after.ID, Name: after.Name})
	case before != nil && after == nil:
		emit(api.Event{Type: api.EventCluster, Action: "secret_remove", ID: before.ID, Name: before.Name})
	}
}

// safeDeriveEvents derives the events of a successful command from its
// tracked changes. A bug that panics costs the entry its events, never
// its apply (and does so the same way on every replica).
func safeDeriveEvents(txn *memdb.Txn, changes memdb.Changes, index uint64, when time.Time) (evs []api.Event) {
	defer func() {
		if recover() != nil {
			evs = nil
		}
	}()
	return deriveEvents(txn, changes, index, when)
}
