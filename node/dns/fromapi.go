package dns

import (
	"strconv"

	"github.com/shoal-project/shoal/api"
)

// apiFields reads what the api types do not carry yet on every branch:
// a task's IP, a port's name, and the port its tasks listen on.
type apiFields struct {
	taskIP     func(*api.Task) string
	portName   func(api.PortSpec) string
	portTarget func(api.PortSpec) uint16
}

// currentAPIFields reads the api types: a task's address is the IP its
// node reported; a port's SRV name is its name, and its port the one the
// tasks listen on.
var currentAPIFields = apiFields{
	taskIP:     func(t *api.Task) string { return t.Status.IP },
	portName:   func(p api.PortSpec) string { return p.Name },
	portTarget: func(p api.PortSpec) uint16 { return p.Target() },
}

// FromAPI builds the records of the replicated state's services and
// tasks (a state.View's Services() and Tasks()). SERVICE answers with the
// service's virtual IP where it has one (service traffic), otherwise with
// its running tasks' addresses, as tasks.SERVICE always does. A task answers when its
// node observed it running, it is meant to run and it has an IP; it is
// labelled by its slot, or by its ID for a global service.
func FromAPI(services []*api.Service, tasks []*api.Task) *Snapshot {
	return fromAPI(services, tasks, currentAPIFields)
}

func fromAPI(services []*api.Service, tasks []*api.Task, f apiFields) *Snapshot {
	names := make(map[string]string, len(services)) // service ID → name
	svcs := make([]Service, 0, len(services))
	for _, s := range services {
		names[s.ID] = s.Spec.Name
		svc := Service{Name: s.Spec.Name, Addr: s.Endpoint.VIP}
		for _, p := range s.Spec.Ports {
			svc.Ports = append(svc.Ports, Port{Name: f.portName(p), Protocol: p.Protocol, Port: f.portTarget(p)})
		}
		svcs = append(svcs, svc)
	}
	var recs []Task
	for _, t := range tasks {
		name, ok := names[t.ServiceID]
		if !ok || t.Status.State != api.TaskRunning || t.DesiredState != api.TaskRunning {
			continue
		}
		ip := f.taskIP(t)
		if ip == "" {
			continue
		}
		label := t.ID
		if t.Slot != 0 {
			label = strconv.FormatUint(t.Slot, 10)
		}
		recs = append(recs, Task{Service: name, Label: label, IP: ip})
	}
	return NewSnapshot(svcs, recs)
}
