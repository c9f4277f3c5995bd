package scheduler

import (
	"fmt"

	"github.com/shoal-project/shoal/api"
)

// workload builds nNodes nodes in 4 zones (every 10th node also runs
// containerd, every 50th is down, every 97th drained) and nSvc services of
// replicas tasks with a mix of constraints, reservations, preferences,
// ports and max-per-node caps.
func workload(nNodes, nSvc, replicas int) ([]*api.Node, []*api.Task) {
	zones := []string{"a", "b", "c", "d"}
	nodes := make([]*api.Node, nNodes)
	for i := range nodes {
		n := node(fmt.Sprintf("node-%05d", i), map[string]string{"zone": zones[i%4], "rack": fmt.Sprintf("r%d", i%40)}, 16e9, 64*gib)
		if i%10 == 0 {
			n.Runtimes = append(n.Runtimes, "containerd")
			n.Labels["gpu"] = "true"
		}
		if i%50 == 49 {
			n.Status = api.NodeDown
		}
		if i%97 == 96 {
			n.Availability = api.AvailabilityDrain
		}
		nodes[i] = n
	}
	var pending []*api.Task
	for s := range nSvc {
		spec := api.ServiceSpec{Reservations: api.Resources{NanoCPUs: int64(s%4) * 1e8, MemoryBytes: int64(s%3) * 64 << 20}}
		switch s % 10 {
		case 1:
			spec.Constraints = mustCons("node.labels.zone==" + zones[s%4])
		case 2:
			spec.Constraints = mustCons("node.labels.zone!=a", "node.labels.rack!=r3")
		case 3:
			spec.Preferences = []api.PlacementPreference{{Spread: "node.labels.zone"}}
		case 4:
			spec.MaxPerNode = 1
		case 5:
			spec.Ports = []api.PortSpec{{Port: uint16(10000 + s)}}
		case 6:
			spec.Runtime = "containerd"
			spec.Constraints = mustCons("node.labels.gpu==true")
		}
		pending = append(pending, tasks(fmt.Sprintf("svc-%04d", s), replicas, spec)...)
	}
	return nodes, pending
}
