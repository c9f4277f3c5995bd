package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/scheduler"
	"github.com/shoal-project/shoal/state"
)

func (s *apiServer) routeServices() {
	s.route("GET /v1/services", api.ACLReadOnly, s.listServices)
	s.route("POST /v1/services", api.ACLOperator, s.createService)
	s.route("GET /v1/services/{name}", api.ACLReadOnly, s.getService)
	s.route("POST /v1/services/{name}", api.ACLOperator, s.updateService)
	s.route("DELETE /v1/services/{name}", api.ACLOperator, s.removeService)
	s.route("GET /v1/services/{name}/tasks", api.ACLReadOnly, s.serviceTasks)
	s.routeRollout()
	s.handle("GET /v1/services/{name}/logs", api.ACLReadOnly, s.streams.limited(s.serviceLogs))
	s.handle("GET /v1/tasks/{id}/logs", api.ACLReadOnly, s.streams.limited(s.taskLogs))
}

// checkSpec normalises and validates a spec, including the placement
// preferences the scheduler parses (constraints were parsed with the spec).
func checkSpec(spec *api.ServiceSpec) error {
	spec.Normalize()
	if err := spec.Validate(); err != nil {
		return err
	}
	for _, p := range spec.Preferences {
		if _, err := scheduler.ParsePreference(p.Spread); err != nil {
			return api.Errorf(api.CodeInvalid, "spec.preferences: %v", err)
		}
	}
	return nil
}

// serviceInfo summarises service svc and its tasks as view v has them.
func serviceInfo(v *state.View, svc *api.Service) api.ServiceInfo {
	info := api.ServiceInfo{Service: *svc}
	tasks := v.TasksByService(svc.ID)
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

// findServiceIn finds a service by name, or else by ID, in one view.
func findServiceIn(v *state.View, name string) (*api.Service, error) {
	if svc, ok := v.ServiceByName(name); ok {
		return svc, nil
	}
	if svc, ok := v.Service(name); ok {
		return svc, nil
	}
	return nil, api.Errorf(api.CodeNotFound, "no such service: %s", name)
}

func (s *apiServer) listServices(r *http.Request) (any, error) {
	v := s.backend.view() // one index for the whole answer
	svcs := v.Services()
	out := make([]api.ServiceInfo, 0, len(svcs))
	for _, svc := range svcs {
		out = append(out, serviceInfo(v, svc))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out, nil
}

func (s *apiServer) getService(r *http.Request) (any, error) {
	v := s.backend.view() // one index for the whole answer
	svc, err := findServiceIn(v, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	info := serviceInfo(v, svc)
	for _, t := range v.TasksByService(svc.ID) {
		if t.Status.State != api.TaskRunning || t.DesiredState != api.TaskRunning {
			continue
		}
		a := api.TaskAddress{ID: t.ID, Slot: t.Slot, IP: t.Status.IP}
		if n, ok := v.Node(t.NodeID); ok {
			a.Node = n.Name
		}
		info.Tasks = append(info.Tasks, a)
	}
	sort.Slice(info.Tasks, func(i, j int) bool {
		a, b := info.Tasks[i], info.Tasks[j]
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		return a.Node < b.Node
	})
	return info, nil
}

func (s *apiServer) createService(r *http.Request) (any, error) {
	var spec api.ServiceSpec
	if err := decodeBody(r, &spec); err != nil {
		return nil, err
	}
	v := s.backend.view()
	if ingressByDefault(v) {
		api.DefaultPublishModes(&spec, nil)
	}
	if err := checkSpec(&spec); err != nil {
		return nil, err
	}
	raw, err := s.submit(r, api.CmdCreateService, api.CreateServicePayload{Spec: spec, By: changedBy(v, r)})
	if err != nil {
		return nil, err
	}
	// Answer from the committed result, not a re-read: a retried create
	// must answer the same even if the service changed since.
	return s.serviceFromResult(raw)
}

// serviceFromResult turns a committed command's service into the answer,
// with its tasks as the local replica has them now.
func (s *apiServer) serviceFromResult(raw json.RawMessage) (any, error) {
	var svc api.Service
	if err := json.Unmarshal(raw, &svc); err != nil || svc.ID == "" {
		return nil, api.Errorf(api.CodeInternal, "unexpected result from the leader: %s", raw)
	}
	return serviceInfo(s.backend.view(), &svc), nil
}

// updateService changes a spec or scales. The new spec is built from the
// current one, so the local replica is first brought up to the leader's
// state (a read index) and the write carries the version it was built
// from: a stale or concurrent base is refused by the FSM, never silently
// applied over a newer spec.
func (s *apiServer) updateService(r *http.Request) (any, error) {
	var req api.ServiceUpdateRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	requestID := r.Header.Get(api.HeaderRequestID)
	if requestID == "" {
		requestID = api.NewRequestID()
	}
	for attempt := 0; ; attempt++ {
		if err := s.backend.consistentRead(r.Context()); err != nil {
			return nil, err
		}
		v := s.backend.view() // the base the new spec is built on
		svc, err := findServiceIn(v, r.PathValue("name"))
		if err != nil {
			return nil, err
		}
		spec, err := updatedSpec(svc, req, ingressByDefault(v))
		if err != nil {
			return nil, err
		}
		if reflect.DeepEqual(spec, svc.Spec) && (req.ExpectVersion == 0 || req.ExpectVersion == svc.Version) {
			return serviceInfo(v, svc), nil
		}
		expect := req.ExpectVersion
		if expect == 0 {
			expect = svc.Version
		}
		id := requestID
		if attempt > 0 {
			// The FSM remembers a refused request under its ID; a rebuilt
			// write is a new request.
			id = fmt.Sprintf("%s/%d", requestID, attempt)
		}
		raw, err := s.backend.submitPayload(r.Context(), api.CmdUpdateService, id, api.UpdateServicePayload{Name: svc.Spec.Name, ExpectVersion: expect, Spec: spec, By: changedBy(v, r)})
		if err == nil {
			return s.serviceFromResult(raw)
		}
		// Only a base that moved under us (and not one the client pinned)
		// is worth rebuilding on.
		if api.CodeOf(err) != api.CodeConflict || req.ExpectVersion != 0 || attempt >= 3 {
			return nil, err
		}
	}
}

// ingressByDefault reports whether published ports that name no mode
// become ingress ports (api.DefaultPublishModes): in a cluster with a
// service CIDR (in view v). Elsewhere they stay host ports, as before
// service traffic.
func ingressByDefault(v *state.View) bool {
	c, ok := v.Cluster()
	return ok && c.ServiceCIDR != ""
}

// updatedSpec applies an update request to a service's current spec;
// ingress fills in publish modes (see ingressByDefault).
func updatedSpec(svc *api.Service, req api.ServiceUpdateRequest, ingress bool) (api.ServiceSpec, error) {
	spec := svc.Spec
	switch {
	case req.Spec != nil && req.Replicas != nil:
		return spec, api.Errorf(api.CodeInvalid, "give either spec or replicas, not both")
	case req.Spec != nil:
		spec = *req.Spec
		if spec.Name == "" {
			spec.Name = svc.Spec.Name
		}
		if spec.Name != svc.Spec.Name {
			return spec, api.Errorf(api.CodeInvalid, "spec.name: a service cannot be renamed (%s → %s)", svc.Spec.Name, spec.Name)
		}
	case req.Replicas != nil:
		if svc.Spec.Mode == api.ModeGlobal {
			return spec, api.Errorf(api.CodeInvalid, "replicas: service %s is global; it runs one task per eligible node", svc.Spec.Name)
		}
		spec.Replicas = *req.Replicas
	default:
		return spec, api.Errorf(api.CodeInvalid, "request body: give spec or replicas")
	}
	if ingress {
		spec.Ports = slices.Clone(spec.Ports)
		api.DefaultPublishModes(&spec, &svc.Spec)
	}
	return spec, checkSpec(&spec)
}

// removeService removes by name without consulting the local replica
// first: the FSM decides, so a node cut off from the leader cannot answer
// "no such service" for one that exists, and a retried request (same
// request ID) gets the first answer.
func (s *apiServer) removeService(r *http.Request) (any, error) {
	name := r.PathValue("name")
	if svc, ok := s.backend.view().Service(name); ok {
		name = svc.Spec.Name // removal by ID
	}
	if _, err := s.submit(r, api.CmdRemoveService, api.RemoveServicePayload{Name: name}); err != nil {
		return nil, err
	}
	return map[string]string{"removed": name}, nil
}

func (s *apiServer) serviceTasks(r *http.Request) (any, error) {
	v := s.backend.view() // one index for the whole answer
	svc, err := findServiceIn(v, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	tasks := v.TasksByService(svc.ID)
	out := make([]api.TaskInfo, 0, len(tasks))
	for _, t := range tasks {
		info := api.TaskInfo{Task: *t, State: t.Status.State, Error: t.Status.Err, IP: t.Status.IP, Health: t.Status.Health}
		if n, ok := v.Node(t.NodeID); ok {
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
