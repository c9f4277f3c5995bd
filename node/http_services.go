package node

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sort"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
)

func (s *apiServer) routeServices() {
	s.route("GET /v1/services", s.listServices)
	s.route("POST /v1/services", s.createService)
	s.route("GET /v1/services/{name}", s.getService)
	s.route("POST /v1/services/{name}", s.updateService)
	s.route("DELETE /v1/services/{name}", s.removeService)
	s.route("GET /v1/services/{name}/tasks", s.serviceTasks)
	s.mux.HandleFunc("GET /v1/services/{name}/logs", s.serviceLogs)
	s.mux.HandleFunc("GET /v1/tasks/{id}/logs", s.taskLogs)
}

// checkSpec normalises and validates a spec, including what only the
// scheduler can parse (constraints, placement preferences).
func checkSpec(spec *api.ServiceSpec) error {
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return err
	}
	if _, err := scheduler.ParseConstraints(spec.Constraints); err != nil {
		return api.Errorf(api.CodeInvalid, "spec.constraints: %v", err)
	}
	for _, p := range spec.Preferences {
		if _, err := scheduler.ParsePreference(p.Spread); err != nil {
			return api.Errorf(api.CodeInvalid, "spec.preferences: %v", err)
		}
	}
	return nil
}

func (s *apiServer) serviceInfo(svc *api.Service) api.ServiceInfo {
	info := api.ServiceInfo{Service: *svc}
	tasks := s.agent.store().TasksByService(svc.ID)
	pending := map[string]bool{}
	eligibleNodes := map[string]bool{}
	for _, t := range tasks {
		if !t.Active() {
			continue
		}
		if svc.Spec.Mode == api.ModeGlobal {
			eligibleNodes[t.NodeID] = true
		}
		if t.Status.State == api.TaskRunning && t.DesiredState == api.TaskRunning {
			info.Running++
		}
		if t.Status.State <= api.TaskPending && t.Status.Err != "" && !pending[t.Status.Err] {
			pending[t.Status.Err] = true
			info.Pending = append(info.Pending, t.Status.Err)
		}
	}
	if svc.Spec.Mode == api.ModeGlobal {
		info.Desired = uint64(len(eligibleNodes))
	} else {
		info.Desired = svc.Spec.Replicas
	}
	sort.Strings(info.Pending)
	return info
}

func (s *apiServer) findService(name string) (*api.Service, error) {
	if svc, ok := s.agent.store().ServiceByName(name); ok {
		return svc, nil
	}
	if svc, ok := s.agent.store().Service(name); ok {
		return svc, nil
	}
	return nil, api.Errorf(api.CodeNotFound, "no such service: %s", name)
}

func (s *apiServer) listServices(r *http.Request) (any, error) {
	svcs := s.agent.store().Services()
	out := make([]api.ServiceInfo, 0, len(svcs))
	for _, svc := range svcs {
		out = append(out, s.serviceInfo(svc))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

func (s *apiServer) getService(r *http.Request) (any, error) {
	svc, err := s.findService(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return s.serviceInfo(svc), nil
}

func (s *apiServer) createService(r *http.Request) (any, error) {
	var spec api.ServiceSpec
	if err := decodeBody(r, &spec); err != nil {
		return nil, err
	}
	if err := checkSpec(&spec); err != nil {
		return nil, err
	}
	if _, err := s.submit(r, api.CmdCreateService, api.CreateServicePayload{Spec: spec}); err != nil {
		return nil, err
	}
	return s.getServiceByName(spec.Name)
}

func (s *apiServer) getServiceByName(name string) (any, error) {
	svc, err := s.findService(name)
	if err != nil {
		return nil, err
	}
	return s.serviceInfo(svc), nil
}

func (s *apiServer) updateService(r *http.Request) (any, error) {
	svc, err := s.findService(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	var req api.ServiceUpdateRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	spec := svc.Spec
	switch {
	case req.Spec != nil && req.Replicas != nil:
		return nil, api.Errorf(api.CodeInvalid, "give either spec or replicas, not both")
	case req.Spec != nil:
		spec = *req.Spec
		if spec.Name == "" {
			spec.Name = svc.Spec.Name
		}
		if spec.Name != svc.Spec.Name {
			return nil, api.Errorf(api.CodeInvalid, "spec.name: a service cannot be renamed (%s → %s)", svc.Spec.Name, spec.Name)
		}
	case req.Replicas != nil:
		if svc.Spec.Mode == api.ModeGlobal {
			return nil, api.Errorf(api.CodeInvalid, "replicas: service %s is global; it runs one task per eligible node", svc.Spec.Name)
		}
		spec.Replicas = *req.Replicas
	default:
		return nil, api.Errorf(api.CodeInvalid, "request body: give spec or replicas")
	}
	if err := checkSpec(&spec); err != nil {
		return nil, err
	}
	if reflect.DeepEqual(spec, svc.Spec) && (req.ExpectVersion == 0 || req.ExpectVersion == svc.Version) {
		return s.serviceInfo(svc), nil
	}
	if _, err := s.submit(r, api.CmdUpdateService, api.UpdateServicePayload{Name: svc.Spec.Name, ExpectVersion: req.ExpectVersion, Spec: spec}); err != nil {
		return nil, err
	}
	return s.getServiceByName(svc.Spec.Name)
}

func (s *apiServer) removeService(r *http.Request) (any, error) {
	svc, err := s.findService(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	if _, err := s.submit(r, api.CmdRemoveService, api.RemoveServicePayload{Name: svc.Spec.Name}); err != nil {
		return nil, err
	}
	return map[string]string{"removed": svc.Spec.Name}, nil
}

func (s *apiServer) serviceTasks(r *http.Request) (any, error) {
	svc, err := s.findService(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	tasks := s.agent.store().TasksByService(svc.ID)
	out := make([]api.TaskInfo, 0, len(tasks))
	for _, t := range tasks {
		info := api.TaskInfo{Task: *t, State: t.Status.State, Error: t.Status.Err}
		if n, ok := s.agent.store().Node(t.NodeID); ok {
			info.NodeName = n.Name
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		if a.NodeName != b.NodeName {
			return a.NodeName < b.NodeName
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
	return out, nil
}

var _ = json.Marshal
