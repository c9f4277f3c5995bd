package state

import (
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestSetRaftRoles(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n3", "node-3")})
	h.fails(api.CmdSetRaftRoles, api.CodeInvalid, api.SetRaftRolesPayload{Roles: map[string]api.Role{"n1": api.RoleLeader}})
	v := h.ok(api.CmdSetRaftRoles, api.SetRaftRolesPayload{Roles: map[string]api.Role{"n1": api.RoleVoter, "n2": api.RoleNonvoter}})
	if n := v.(*int); *n != 3 {
		t.Fatalf("changed %d nodes, want 3", *n)
	}
	want := map[string]api.Role{"n1": api.RoleVoter, "n2": api.RoleNonvoter, "n3": api.RoleMember}
	for id, role := range want {
		if n, _ := h.fsm.store.Node(id); n.RaftRole != role {
			t.Errorf("%s role %q, want %q", id, n.RaftRole, role)
		}
	}
	v = h.ok(api.CmdSetRaftRoles, api.SetRaftRolesPayload{Roles: map[string]api.Role{"n1": api.RoleVoter, "n2": api.RoleNonvoter}})
	if n := v.(*int); *n != 0 {
		t.Fatalf("an unchanged configuration changed %d nodes", *n)
	}
}

func TestWriteTasksOrphan(t *testing.T) {
	h := bootstrapped(t)
	done := newTask("t-done", 2)
	done.NodeID, done.Status.State = "n2", api.TaskComplete
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), done}, Assign: []api.TaskAssignment{{TaskID: "t1", NodeID: "n2"}}})
	r := h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Orphan: []api.TaskOrphan{
		{TaskID: "t1", Reason: "node n2 is down"}, {TaskID: "t-done"}, {TaskID: "t-missing"},
	}}).(*WriteTasksResult)
	if r.Orphaned != 1 || len(r.Skipped) != 1 || len(r.Missing) != 1 {
		t.Fatalf("result = %+v", r)
	}
	t1 := mustTask(t, h.fsm.store, "t1")
	if t1.Status.State != api.TaskOrphaned || t1.DesiredState != api.TaskShutdown || t1.Status.Err != "node n2 is down" {
		t.Fatalf("t1 = %+v desired %s", t1.Status, t1.DesiredState)
	}
	if d := mustTask(t, h.fsm.store, "t-done"); d.Status.State != api.TaskComplete {
		t.Fatalf("terminal task changed to %s", d.Status.State)
	}
}
