package endpoints

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestCompute(t *testing.T) {
	nodes := []*api.Node{
		{ID: "n1", P2PAddr: "127.0.0.1:7000", Status: api.NodeReady},
		{ID: "n2", P2PAddr: "127.0.0.2:7000", Status: api.NodeReady},
		{ID: "n3", P2PAddr: "127.0.0.3:7000", Status: api.NodeDown},
		{ID: "n4", P2PAddr: "[::ffff:10.0.0.4]:7000", Status: api.NodeRestarting},
	}
	web := &api.Service{ID: "s1", Spec: api.ServiceSpec{Name: "web"}, Endpoint: api.Endpoint{
		VIP: "10.43.0.2",
		Ports: []api.EndpointPort{
			{Name: "http", Protocol: "tcp", Target: 80, Published: 30000, Mode: api.PublishIngress, ProxyProtocol: true},
			{Protocol: "", Target: 53},
		},
	}}
	none := &api.Service{ID: "s2", Spec: api.ServiceSpec{Name: "plain"}}
	task := func(id, node string, mod func(*api.Task)) *api.Task {
		t := &api.Task{ID: id, ServiceID: "s1", NodeID: node, DesiredState: api.TaskRunning,
			Status: api.TaskStatus{State: api.TaskRunning}}
		if mod != nil {
			mod(t)
		}
		return t
	}
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		name  string
		tasks []*api.Task
		want  []Backend // of port 80; port 53 has the same addresses
	}{
		{"no tasks", nil, nil},
		{"process task: its node's address", []*api.Task{task("t1", "n2", nil)},
			[]Backend{{"t1", ap("127.0.0.2:80"), "n2", false}}},
		{"container: its own IP", []*api.Task{task("t1", "n1", func(t *api.Task) { t.Status.IP = "10.42.0.5" })},
			[]Backend{{"t1", ap("10.42.0.5:80"), "n1", false}}},
		{"sorted by address then ID", []*api.Task{
			task("tb", "n2", nil), task("ta", "n2", nil), task("tc", "n1", nil)},
			[]Backend{{"tc", ap("127.0.0.1:80"), "n1", false}, {"ta", ap("127.0.0.2:80"), "n2", false}, {"tb", ap("127.0.0.2:80"), "n2", false}}},
		{"health: none and healthy only", []*api.Task{
			task("t1", "n1", func(t *api.Task) { t.Status.Health = api.HealthStarting }),
			task("t2", "n1", func(t *api.Task) { t.Status.Health = api.HealthUnhealthy }),
			task("t3", "n1", func(t *api.Task) { t.Status.Health = api.HealthHealthy }),
			task("t4", "n2", nil)},
			[]Backend{{"t3", ap("127.0.0.1:80"), "n1", false}, {"t4", ap("127.0.0.2:80"), "n2", false}}},
		{"observed running and desired running only", []*api.Task{
			task("t1", "n1", func(t *api.Task) { t.Status.State = api.TaskStarting }),
			task("t2", "n1", func(t *api.Task) { t.DesiredState = api.TaskShutdown }),
			task("t3", "n1", func(t *api.Task) { t.Status.State = api.TaskFailed }),
			task("t4", "n1", nil)},
			[]Backend{{"t4", ap("127.0.0.1:80"), "n1", false}}},
		{"down, unknown and removed nodes' tasks leave; restarting ones stay", []*api.Task{
			task("t1", "n3", nil), task("t2", "gone", nil), task("t3", "n4", nil)},
			[]Backend{{"t3", ap("10.0.0.4:80"), "n4", false}}},
		{"a bad IP is left out", []*api.Task{task("t1", "n1", func(t *api.Task) { t.Status.IP = "nonsense" })}, nil},
		{"other services' tasks are not ours", []*api.Task{task("t1", "n1", func(t *api.Task) { t.ServiceID = "s2" })}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute([]*api.Service{none, web}, tc.tasks, nodes)
			if len(got) != 1 {
				t.Fatalf("services: %+v, want web only (plain has no endpoint)", got)
			}
			s := got[0]
			if s.Name != "web" || s.VIP != netip.MustParseAddr("10.43.0.2") || len(s.Ports) != 2 || len(s.Live) != len(tc.want) {
				t.Fatalf("service: %+v", s)
			}
			http, dns := s.Ports[0], s.Ports[1]
			if !http.Ingress() || !http.ProxyProtocol || http.Protocol != "tcp" || http.Published != 30000 {
				t.Errorf("http port: %+v", http)
			}
			if dns.Ingress() || dns.Protocol != "tcp" {
				t.Errorf("port 53 (no protocol given: tcp): %+v", dns)
			}
			if !reflect.DeepEqual(http.Backends, tc.want) {
				t.Errorf("backends: %v, want %v", http.Backends, tc.want)
			}
			for i, b := range dns.Backends {
				if b.TaskID != tc.want[i].TaskID || b.Addr.Addr() != tc.want[i].Addr.Addr() || b.Addr.Port() != 53 {
					t.Errorf("port 53 backend %d: %v", i, b)
				}
			}
		})
	}
}

func TestComputeOrderAndCounts(t *testing.T) {
	svc := func(id, name string) *api.Service {
		return &api.Service{ID: id, Spec: api.ServiceSpec{Name: name}, Endpoint: api.Endpoint{VIP: "10.43.0.9"}}
	}
	nodes := []*api.Node{{ID: "n1", P2PAddr: "127.0.0.1:1", Status: api.NodeReady}}
	tasks := []*api.Task{{ID: "t", ServiceID: "b", NodeID: "n1", DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskRunning}}}
	got := Compute([]*api.Service{svc("b", "zeta"), svc("a", "alpha")}, tasks, nodes)
	if len(got) != 2 || got[0].Name != "alpha" || got[1].Name != "zeta" {
		t.Fatalf("order: %+v", got)
	}
	if c := Counts(got); !reflect.DeepEqual(c, map[string]int{"alpha": 0, "zeta": 1}) {
		t.Errorf("counts: %v (a VIP without ports still counts its tasks)", c)
	}
}

// BenchmarkCompute: 1,000 services of 10 running tasks on 100 nodes, the
// work of one pass of the agent's traffic loop.
func BenchmarkCompute(b *testing.B) {
	var nodes []*api.Node
	for i := 0; i < 100; i++ {
		nodes = append(nodes, &api.Node{ID: fmt.Sprintf("n%03d", i), P2PAddr: fmt.Sprintf("10.0.%d.%d:7000", i/250, i%250+1), Status: api.NodeReady})
	}
	var svcs []*api.Service
	var tasks []*api.Task
	for i := 0; i < 1000; i++ {
		id := fmt.Sprintf("s%04d", i)
		svcs = append(svcs, &api.Service{ID: id, Spec: api.ServiceSpec{Name: id}, Endpoint: api.Endpoint{
			VIP: fmt.Sprintf("10.43.%d.%d", i/250, i%250+1), Ports: []api.EndpointPort{{Protocol: "tcp", Target: 80}}}})
		for j := 0; j < 10; j++ {
			tasks = append(tasks, &api.Task{ID: fmt.Sprintf("%s-%d", id, j), ServiceID: id, NodeID: nodes[(i+j)%100].ID,
				DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskRunning, IP: fmt.Sprintf("10.42.%d.%d", (i+j)%100, j+2)}})
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Compute(svcs, tasks, nodes)
	}
}
