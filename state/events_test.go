package state

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// eventsSince reads every event after since that the FSM holds now.
func eventsSince(t *testing.T, f *FSM, since uint64) []api.Event {
	t.Helper()
	sub, err := f.SubscribeEvents(&since)
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, sub)
}

// drain reads what a subscription has without waiting for more.
func drain(t *testing.T, sub *EventSub) []api.Event {
	t.Helper()
	var out []api.Event
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		evs, err := sub.Next(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, evs...)
	}
}

// summary renders events as "index type action name [k=v ...]" lines for
// comparisons.
func summary(evs []api.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%d %s %s %s", e.Index, e.Type, e.Action, e.Name)
		for _, k := range []string{"state", "desired", "status", "role", "version", "availability"} {
			if v, ok := e.Attrs[k]; ok {
				fmt.Fprintf(&b, " %s=%s", k, v)
			}
		}
		if e.Node != "" && e.Type == api.EventTask {
			fmt.Fprintf(&b, " @%s", e.Node)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// step applies a command and checks the events it yields.
func (h *harness) step(t *testing.T, typ api.CommandType, payload any, want string) {
	t.Helper()
	from := h.index
	h.ok(typ, payload)
	evs := eventsSince(t, h.fsm, from)
	for _, e := range evs {
		if !e.Time.Equal(h.now) {
			t.Errorf("%s %s time %v, want the command time %v", e.Type, e.Action, e.Time, h.now)
		}
	}
	want = strings.ReplaceAll(want, "$", fmt.Sprint(h.index))
	if got := summary(evs); got != want {
		t.Fatalf("%s: events\n%s\nwant\n%s", typ, got, want)
	}
}

func TestEventsForEveryCommand(t *testing.T) {
	h := newHarness(t)
	h.step(t, api.CmdBootstrap, api.BootstrapPayload{Cluster: testCluster(), Node: testNode("n1", "node-1")},
		"$ cluster bootstrap \n$ node register node-1 status=ready\n")
	h.step(t, api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n2", "node-2")}, "$ node register node-2 status=ready\n")
	h.step(t, api.CmdSetRaftRoles, api.SetRaftRolesPayload{Roles: map[string]api.Role{"n1": api.RoleVoter}}, "$ node role node-1 role=voter\n$ node role node-2 role=member\n")
	h.step(t, api.CmdCreateService, api.CreateServicePayload{ServiceID: "svc-web", Spec: testSpec("web")}, "$ service create web version=1\n")
	up := testSpec("web")
	up.Replicas = 2
	h.step(t, api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: up}, "$ service update web version=2\n")
	up.Env = []string{"V=3"}
	h.step(t, api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: up}, "$ service update web version=3\n$ service update_state web state=updating version=3\n")
	h.step(t, api.CmdWriteTasks, api.WriteTasksPayload{Services: []api.ServiceUpdate{{ServiceID: "svc-web", Version: 3, State: api.UpdateRollbackStarted, Message: "x"}}},
		"$ service update web version=4\n$ service update_state web state=rollback_started version=4\n")
	h.step(t, api.CmdRollbackService, api.RollbackServicePayload{Name: "web", ToVersion: 2}, "$ service update web version=5\n$ service update_state web state=rollback_started version=5\n")
	h.step(t, api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2)}},
		"$ task create web.1 desired=running\n$ task create web.2 desired=running\n")
	h.step(t, api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n2"}, {TaskID: "t2", Err: "no room"}}},
		"$ task assigned web.1 state=assigned @node-2\n$ task pending web.2 state=pending\n")
	h.step(t, api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n2", Updates: []api.TaskStatusUpdate{
		{TaskID: "t1", Status: api.TaskStatus{State: api.TaskRunning}}}}, "$ task running web.1 state=running @node-2\n")
	// A stale report changes nothing and yields nothing.
	h.step(t, api.CmdReportTaskStatus, api.ReportTaskStatusPayload{NodeID: "n2", Updates: []api.TaskStatusUpdate{
		{TaskID: "t1", Status: api.TaskStatus{State: api.TaskStarting}}}}, "")
	h.step(t, api.CmdUpdateNode, api.UpdateNodePayload{NodeID: "n2", Availability: api.AvailabilityDrain},
		"$ node update node-2 availability=drain\n")
	h.step(t, api.CmdWriteTasks, api.WriteTasksPayload{Desire: []api.TaskDesire{{TaskID: "t1", DesiredState: api.TaskShutdown}}},
		"$ task desired web.1 desired=shutdown @node-2\n")
	h.step(t, api.CmdNodeRestarting, api.NodeRestartingPayload{NodeID: "n2", Grace: time.Minute}, "$ node restarting node-2 status=restarting\n")
	h.step(t, api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n2", "node-2")}, "$ node up node-2 status=ready\n")
	h.step(t, api.CmdSetNodeStatus, api.SetNodeStatusPayload{NodeID: "n2", Status: api.NodeDown}, "$ node down node-2 status=down\n")
	h.step(t, api.CmdWriteTasks, api.WriteTasksPayload{Orphan: []api.TaskOrphan{{TaskID: "t1", Reason: "node down"}}},
		"$ task orphaned web.1 state=orphaned @node-2\n")
	h.step(t, api.CmdRemoveService, api.RemoveServicePayload{Name: "web"}, "$ service remove web version=5\n$ task desired web.2 desired=shutdown\n")
	h.step(t, api.CmdWriteTasks, api.WriteTasksPayload{Delete: []string{"t1"}}, "$ task remove web.1 @node-2\n")
	h.step(t, api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n2"}, "$ node remove node-2\n")
	h.step(t, api.CmdRotateToken, api.RotateTokenPayload{TokenNonce: []byte("nonce-2")}, "$ cluster token_rotate \n")
	h.step(t, api.CmdReportImages, api.ReportImagesPayload{NodeID: "n1", Images: []api.ImageRef{{Ref: "docker.io/library/a:1", Digest: "sha256:aa"}}}, "")
	// Access and keys: names and roles, never secrets.
	h.step(t, api.CmdCreateACLToken, api.CreateACLTokenPayload{TokenID: "tok1", Name: "ci", Role: api.ACLOperator, SecretHash: strings.Repeat("ab", 32)},
		"$ cluster acl_token_create ci role=operator\n")
	h.step(t, api.CmdRevokeACLToken, api.RevokeACLTokenPayload{Token: "ci"}, "$ cluster acl_token_revoke ci role=operator\n")
	h.step(t, api.CmdCreateSecret, api.CreateSecretPayload{SecretID: "s1", Name: "pw", Size: 2, Sealed: []byte("x"), DataKey: bytes.Repeat([]byte{1}, 32)},
		"$ cluster secret_create pw\n")
	h.step(t, api.CmdRemoveSecret, api.RemoveSecretPayload{Name: "pw"}, "$ cluster secret_remove pw\n")
	k2 := bytes.Repeat([]byte{2}, 32)
	h.step(t, api.CmdRotateKeys, api.RotateKeysPayload{Step: api.RotateInstall, GossipKey: k2}, "$ cluster keys_install \n")
	h.step(t, api.CmdRotateKeys, api.RotateKeysPayload{Step: api.RotateSwitch, GossipKey: k2,
		SigningKey: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32)), TokenNonce: []byte("nonce-3")},
		"$ cluster keys_switch \n$ cluster token_rotate \n")
	h.step(t, api.CmdRotateKeys, api.RotateKeysPayload{Step: api.RotateDrop}, "$ cluster keys_drop \n")
}

func TestEventsNotForFailedOrRepeatedCommands(t *testing.T) {
	h := bootstrapped(t)
	from := h.index
	h.fails(api.CmdCreateService, api.CodeConflict, api.CreateServicePayload{ServiceID: "svc-x", Spec: testSpec("web")})
	p := api.CreateServicePayload{ServiceID: "svc-api", Spec: testSpec("api")}
	h.do(api.CmdCreateService, "req-1", p)
	h.do(api.CmdCreateService, "req-1", p) // a retry returns the first result
	if got, want := summary(eventsSince(t, h.fsm, from)), fmt.Sprintf("%d service create api version=1\n", from+2); got != want {
		t.Fatalf("events\n%s\nwant\n%s", got, want)
	}
}

func TestEventsAreTheSameOnEveryReplica(t *testing.T) {
	leader := bootstrapped(t)
	leader.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1)}})
	leader.ok(api.CmdWriteTasks, api.WriteTasksPayload{Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n1"}}})
	member := NewFSM(NewStore())
	entries, ok := leader.fsm.EntriesSince(1)
	if !ok {
		t.Fatal("feed window lost entries")
	}
	for _, e := range entries {
		if err := member.ApplyFeed(e); err != nil {
			t.Fatal(err)
		}
	}
	a, b := eventsSince(t, leader.fsm, 0), eventsSince(t, member, 0)
	if summary(a) != summary(b) || len(a) == 0 {
		t.Fatalf("leader events\n%s\nmember events\n%s", summary(a), summary(b))
	}
}
