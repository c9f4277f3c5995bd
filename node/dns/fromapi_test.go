package dns

import (
	"fmt"
	"slices"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// testFields names ports "pPORT" and maps each to PORT+1000, standing in
// for the port names and target ports api gains later.
var testFields = apiFields{
	taskIP:     func(t *api.Task) string { return t.Status.IP },
	portName:   func(p api.PortSpec) string { return "p" + string(rune('0'+p.Port%10)) },
	portTarget: func(p api.PortSpec) uint16 { return p.Port + 1000 },
}

func apiTask(id, svc string, slot uint64, desired, observed api.TaskState, ip string) *api.Task {
	return &api.Task{ID: id, ServiceID: svc, Slot: slot, DesiredState: desired, Status: api.TaskStatus{State: observed, IP: ip}}
}

func TestFromAPI(t *testing.T) {
	services := []*api.Service{
		{ID: "s1", Spec: api.ServiceSpec{Name: "web", Ports: []api.PortSpec{{Port: 8, Protocol: "tcp"}}}},
		{ID: "s2", Spec: api.ServiceSpec{Name: "mon", Mode: api.ModeGlobal}},
	}
	run, sd := api.TaskRunning, api.TaskShutdown
	tasks := []*api.Task{
		apiTask("t1", "s1", 1, run, run, "10.42.0.1"),
		apiTask("t2", "s1", 2, run, api.TaskStarting, "10.42.0.2"), // not running yet
		apiTask("t3", "s1", 3, sd, run, "10.42.0.3"),               // being stopped
		apiTask("t4", "s1", 4, run, run, ""),                       // no address
		apiTask("t5", "s1", 5, run, api.TaskFailed, "10.42.0.5"),
		apiTask("t6", "s9", 1, run, run, "10.42.0.6"), // unknown service
		apiTask("ABC123", "s2", 0, run, run, "10.42.0.7"),
	}
	s := fromAPI(services, tasks, testFields)
	if ips, _ := s.Tasks("web"); !slices.Equal(ipStrings(ips), []string{"10.42.0.1"}) {
		t.Errorf("Tasks(web) = %v, want only the running task with an address", ips)
	}
	if ips, ok := s.Task("mon", "abc123"); !ok || !slices.Equal(ipStrings(ips), []string{"10.42.0.7"}) {
		t.Errorf("global task labelled by its ID: %v, %v", ips, ok)
	}
	targets, ok := s.SRV("web", "p8", "tcp")
	if !ok || len(targets) != 1 || targets[0].Port != 1008 || targets[0].Label != "1" {
		t.Errorf("SRV(web, p8, tcp) = %+v, %v, want slot 1 on the target port", targets, ok)
	}
}

// TestFromAPIToday: with the api types as they are on this branch, tasks
// have no address and ports no name, so services exist without records.
func TestFromAPIToday(t *testing.T) {
	services := []*api.Service{{ID: "s1", Spec: api.ServiceSpec{Name: "web", Ports: []api.PortSpec{{Port: 80}}}}}
	tasks := []*api.Task{apiTask("t1", "s1", 1, api.TaskRunning, api.TaskRunning, "10.42.0.1")}
	s := FromAPI(services, tasks)
	if ips, ok := s.Service("web"); !ok || fmt.Sprint(ips) != "[10.42.0.1]" {
		t.Errorf("Service(web) = %v, %v, want the task's reported IP", ips, ok)
	}
}

// TestFromAPIServiceVIP: a service with a virtual IP answers SERVICE with
// it, while tasks.SERVICE still lists its running tasks.
func TestFromAPIServiceVIP(t *testing.T) {
	services := []*api.Service{
		{ID: "s1", Spec: api.ServiceSpec{Name: "web"}, Endpoint: api.Endpoint{VIP: "10.43.0.1"}},
		{ID: "s2", Spec: api.ServiceSpec{Name: "old"}},
	}
	tasks := []*api.Task{
		apiTask("t1", "s1", 1, api.TaskRunning, api.TaskRunning, "10.42.0.1"),
		apiTask("t2", "s2", 1, api.TaskRunning, api.TaskRunning, "10.42.0.2"),
	}
	s := FromAPI(services, tasks)
	if ips, ok := s.Service("web"); !ok || fmt.Sprint(ips) != "[10.43.0.1]" {
		t.Errorf("Service(web) = %v, %v, want its VIP", ips, ok)
	}
	if ips, _ := s.Tasks("web"); fmt.Sprint(ips) != "[10.42.0.1]" {
		t.Errorf("Tasks(web) = %v, want its task", ips)
	}
	if ips, _ := s.Service("old"); fmt.Sprint(ips) != "[10.42.0.2]" {
		t.Errorf("Service(old) without a VIP = %v, want its task", ips)
	}
}
