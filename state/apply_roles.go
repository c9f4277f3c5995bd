package state

import (
	"sort"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// applySetRaftRoles records the Raft configuration on node records; nodes
// not named become plain members.
func (f *FSM) applySetRaftRoles(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.SetRaftRolesPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	for id, r := range p.Roles {
		if r != api.RoleVoter && r != api.RoleNonvoter {
			return nil, api.Errorf(api.CodeInvalid, "set raft roles: node %s: role %q is not voter or nonvoter", id, r)
		}
	}
	nodes := list[api.Node](txn, tableNodes, indexID)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].ID < nodes[j].ID })
	changed := 0
	for _, n := range nodes {
		want, ok := p.Roles[n.ID]
		if !ok {
			want = api.RoleMember
		}
		if n.RaftRole == want {
			continue
		}
		c := cloneNode(n)
		c.RaftRole, c.UpdatedAt = want, cmd.Time
		if err := insert(txn, tableNodes, c); err != nil {
			return nil, err
		}
		changed++
	}
	return &changed, nil
}

// orphanTask ends a task on a lost node: desired shutdown, observed
// orphaned. Terminal tasks are left as they are.
func orphanTask(txn *memdb.Txn, cmd *api.Command, o api.TaskOrphan, res *WriteTasksResult) *api.Error {
	old, ok := taskTxn(txn, o.TaskID)
	if !ok {
		res.Missing = append(res.Missing, o.TaskID)
		return nil
	}
	if old.Status.State.Terminal() {
		res.Skipped = append(res.Skipped, TaskSkip{o.TaskID, "task is already " + old.Status.State.String()})
		return nil
	}
	t := *old
	if t.DesiredState < api.TaskShutdown {
		t.DesiredState = api.TaskShutdown
	}
	t.Status = api.TaskStatus{State: api.TaskOrphaned, Err: o.Reason, Timestamp: cmd.Time, ExitCode: old.Status.ExitCode, PID: old.Status.PID}
	t.UpdatedAt = cmd.Time
	res.Orphaned++
	return insert(txn, tableTasks, &t)
}
