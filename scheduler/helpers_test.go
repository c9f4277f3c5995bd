package scheduler

import (
	"fmt"
	"testing"

	"github.com/shoal-project/shoal/api"
)

const gib = 1 << 30

// node makes a ready, active node with the process runtime.
func node(id string, labels map[string]string, cpu, mem int64) *api.Node {
	return &api.Node{ID: id, Name: id, Labels: labels, Resources: api.Resources{NanoCPUs: cpu, MemoryBytes: mem},
		Runtimes: []string{"process"}, Status: api.NodeReady, Availability: api.AvailabilityActive}
}

// tasks makes n pending tasks of service svc with spec sp, slots from 1.
func tasks(svc string, n int, sp api.ServiceSpec) []*api.Task {
	if sp.Runtime == "" {
		sp.Runtime = "process"
	}
	out := make([]*api.Task, n)
	for i := range out {
		out[i] = &api.Task{ID: fmt.Sprintf("%s.%d", svc, i+1), ServiceID: svc, ServiceName: svc, Slot: uint64(i + 1),
			Spec: sp, DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskPending}}
	}
	return out
}

// running makes a running task of svc on node.
func running(id, svc, nodeID string, sp api.ServiceSpec) *api.Task {
	if sp.Runtime == "" {
		sp.Runtime = "process"
	}
	return &api.Task{ID: id, ServiceID: svc, Spec: sp, NodeID: nodeID, DesiredState: api.TaskRunning,
		Status: api.TaskStatus{State: api.TaskRunning}}
}

// perNode counts a plan's assignments per node.
func perNode(p Plan) map[string]int {
	m := map[string]int{}
	for _, a := range p.Assignments {
		m[a.NodeID]++
	}
	return m
}

// checkPlan verifies a plan independently of the scheduler: every pending
// task is answered once, and replaying the assignments over active never
// breaks a filter (no over-commit, ports, max per node, constraints).
func checkPlan(t testing.TB, nodes []*api.Node, active, pending []*api.Task, p Plan) {
	t.Helper()
	byID := map[string]*api.Node{}
	for _, n := range nodes {
		byID[n.ID] = n
	}
	taskByID := map[string]*api.Task{}
	for _, tk := range pending {
		taskByID[tk.ID] = tk
	}
	if got := len(p.Assignments) + len(p.Unplaced); got != len(taskByID) {
		t.Fatalf("plan answers %d tasks, want %d", got, len(taskByID))
	}
	type use struct {
		cpu, mem int64
		ports    map[string]bool
		svc      map[string]uint64
	}
	uses := map[string]*use{}
	book := func(nodeID string, tk *api.Task) *use {
		u := uses[nodeID]
		if u == nil {
			u = &use{ports: map[string]bool{}, svc: map[string]uint64{}}
			uses[nodeID] = u
		}
		u.cpu += tk.Spec.Reservations.NanoCPUs
		u.mem += tk.Spec.Reservations.MemoryBytes
		u.svc[tk.ServiceID]++
		for _, pt := range normPorts(tk.Spec.Ports) {
			if u.ports[pt.String()] {
				t.Fatalf("task %s: port %s already used on %s", tk.ID, pt, nodeID)
			}
			u.ports[pt.String()] = true
		}
		return u
	}
	for _, tk := range active {
		book(tk.NodeID, tk)
	}
	seen := map[string]bool{}
	for _, a := range p.Assignments {
		tk, n := taskByID[a.TaskID], byID[a.NodeID]
		if tk == nil || n == nil || seen[a.TaskID] || a.Err != "" {
			t.Fatalf("bad assignment %+v", a)
		}
		seen[a.TaskID] = true
		if n.Status != api.NodeReady || n.Availability != api.AvailabilityActive || !n.HasRuntime(tk.Spec.Runtime) {
			t.Fatalf("task %s on unusable node %s", tk.ID, n.ID)
		}
		for _, c := range tk.Spec.Constraints {
			if !MatchConstraint(c, n) {
				t.Fatalf("task %s on %s breaks %s", tk.ID, n.ID, c)
			}
		}
		u := book(n.ID, tk)
		if (n.Resources.NanoCPUs > 0 && u.cpu > n.Resources.NanoCPUs) || (n.Resources.MemoryBytes > 0 && u.mem > n.Resources.MemoryBytes) {
			t.Fatalf("node %s over-committed: cpu %d/%d mem %d/%d", n.ID, u.cpu, n.Resources.NanoCPUs, u.mem, n.Resources.MemoryBytes)
		}
		if m := tk.Spec.MaxPerNode; m > 0 && u.svc[tk.ServiceID] > m {
			t.Fatalf("node %s holds %d tasks of %s, max %d", n.ID, u.svc[tk.ServiceID], tk.ServiceID, m)
		}
	}
	for _, a := range p.Unplaced {
		if taskByID[a.TaskID] == nil || seen[a.TaskID] || a.NodeID != "" || a.Err == "" {
			t.Fatalf("bad unplaced entry %+v", a)
		}
		seen[a.TaskID] = true
	}
}
