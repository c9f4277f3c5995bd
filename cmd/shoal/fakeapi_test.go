package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// fixedNow is the CLI's clock in tests, so ages are deterministic.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeAPI is an in-memory Shoal HTTP API. Each GET of a service's tasks
// moves its tasks one step: new tasks start "starting" and then run; a
// service whose constraints mention "nowhere" stays pending.
type fakeAPI struct {
	t    *testing.T
	srv  *httptest.Server
	addr string // the fake's address, as --addr takes it

	mu       sync.Mutex
	cluster  api.ClusterStatus
	nodes    []api.NodeInfo
	token    api.TokenResponse
	services map[string]*api.ServiceInfo
	tasks    map[string][]api.TaskInfo
	logs     string
	images   []api.ImageInfo
	// requests logs "METHOD /path?query" of each request, bodies the JSON
	// body of each write.
	requests []string
	bodies   []string
	reqIDs   []string
	// failNext makes the next n requests answer 503 no_leader.
	failNext int
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{
		t: t,
		cluster: api.ClusterStatus{
			ClusterID: "c0ffee", CreatedAt: fixedNow.Add(-3 * time.Hour), Leader: "n1", LeaderID: "12D3KooWAbcdefghijklmnop",
			Term: 4, CommitIndex: 120, AppliedIndex: 119, Voters: []string{"n1", "n2", "n3"}, Nonvoters: []string{"n4"},
			Members: []string{"n1", "n2", "n3", "n4"}, Self: "n2",
		},
		token:    api.TokenResponse{Token: "SHOAL-1-abc-def", RotatedAt: fixedNow.Add(-2 * time.Minute)},
		services: map[string]*api.ServiceInfo{},
		tasks:    map[string][]api.TaskInfo{},
		logs:     "web.1 | hello\nweb.2 | world\n",
	}
	for i, name := range []string{"n2", "n1"} {
		f.nodes = append(f.nodes, api.NodeInfo{
			Node: api.Node{ID: fmt.Sprintf("12D3KooWNode%dxxxxxxxxxx", 2-i), Name: name, Status: api.NodeReady,
				Availability: api.AvailabilityActive, Labels: map[string]string{"zone": "a", "disk": "ssd"}},
			Role: api.RoleVoter, Address: fmt.Sprintf("10.0.0.%d:7946", 2-i), Tasks: i,
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, r *http.Request) { f.reply(w, f.cluster) })
	mux.HandleFunc("GET /v1/images", func(w http.ResponseWriter, r *http.Request) { f.reply(w, f.images) })
	mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) { f.reply(w, f.nodes) })
	mux.HandleFunc("GET /v1/nodes/{name}", func(w http.ResponseWriter, r *http.Request) {
		if n := f.node(r.PathValue("name")); n != nil {
			f.reply(w, n)
			return
		}
		f.notFound(w, "node", r.PathValue("name"))
	})
	mux.HandleFunc("POST /v1/nodes/{name}", func(w http.ResponseWriter, r *http.Request) {
		var req api.NodeUpdateRequest
		f.decode(r, &req)
		n := f.node(r.PathValue("name"))
		if n == nil {
			f.notFound(w, "node", r.PathValue("name"))
			return
		}
		if req.Availability != "" {
			n.Availability = req.Availability
		}
		for k, v := range req.LabelAdd {
			n.Labels[k] = v
		}
		for _, k := range req.LabelRemove {
			delete(n.Labels, k)
		}
		f.reply(w, n)
	})
	mux.HandleFunc("DELETE /v1/nodes/{name}", func(w http.ResponseWriter, r *http.Request) {
		if f.node(r.PathValue("name")) == nil {
			f.notFound(w, "node", r.PathValue("name"))
			return
		}
		if r.URL.Query().Get("force") != "true" {
			writeAPIError(w, api.Errorf(api.CodeConflict, "node %s is ready; only a down node can be removed", r.PathValue("name")))
			return
		}
		f.reply(w, map[string]string{"removed": r.PathValue("name")})
	})
	mux.HandleFunc("GET /v1/token", func(w http.ResponseWriter, r *http.Request) { f.reply(w, f.token) })
	mux.HandleFunc("GET /v1/acl/whoami", func(w http.ResponseWriter, r *http.Request) {
		f.reply(w, api.WhoAmI{Name: "local", Role: api.ACLAdmin})
	})
	mux.HandleFunc("POST /v1/token/rotate", func(w http.ResponseWriter, r *http.Request) {
		f.token = api.TokenResponse{Token: "SHOAL-1-abc-new", RotatedAt: fixedNow}
		f.reply(w, f.token)
	})
	mux.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		out := []api.ServiceInfo{}
		for _, s := range f.services {
			out = append(out, *s)
		}
		f.reply(w, out)
	})
	mux.HandleFunc("POST /v1/services", func(w http.ResponseWriter, r *http.Request) {
		var spec api.ServiceSpec
		f.decode(r, &spec)
		if _, ok := f.services[spec.Name]; ok {
			writeAPIError(w, api.Errorf(api.CodeConflict, "service %q already exists", spec.Name))
			return
		}
		if err := spec.Validate(); err != nil {
			writeAPIError(w, err.(*api.Error))
			return
		}
		s := &api.ServiceInfo{Service: api.Service{ID: "svc" + spec.Name, Spec: spec, Version: 1, CreatedAt: fixedNow, UpdatedAt: fixedNow},
			Desired: spec.Replicas}
		if spec.Mode == api.ModeGlobal {
			s.Desired = uint64(len(f.nodes))
		}
		f.services[spec.Name] = s
		f.reply(w, s)
	})
	mux.HandleFunc("GET /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		if s := f.services[r.PathValue("name")]; s != nil {
			f.reply(w, s)
			return
		}
		f.notFound(w, "service", r.PathValue("name"))
	})
	mux.HandleFunc("POST /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		var req api.ServiceUpdateRequest
		f.decode(r, &req)
		s := f.services[r.PathValue("name")]
		switch {
		case s == nil:
			f.notFound(w, "service", r.PathValue("name"))
			return
		case req.ExpectVersion != 0 && req.ExpectVersion != s.Version:
			writeAPIError(w, api.Errorf(api.CodeConflict, "service changed (version %d)", s.Version))
			return
		case req.Spec != nil:
			s.Spec = *req.Spec
		case req.Replicas != nil:
			s.Spec.Replicas = *req.Replicas
		}
		s.Version++
		f.reply(w, s)
	})
	mux.HandleFunc("POST /v1/services/{name}/rollback", func(w http.ResponseWriter, r *http.Request) {
		var req api.ServiceRollbackRequest
		f.decode(r, &req)
		s := f.services[r.PathValue("name")]
		if s == nil {
			f.notFound(w, "service", r.PathValue("name"))
			return
		}
		for _, p := range s.Previous {
			if p.Version == req.ToVersion || req.ToVersion == 0 {
				s.Previous = append([]api.VersionedSpec{{Version: s.Version, Spec: s.Spec}}, s.Previous...)
				s.UpdateStatus = &api.UpdateStatus{State: api.UpdateRollbackStarted, FromVersion: s.Version, ToVersion: s.Version + 1}
				s.Spec, s.Version = p.Spec, s.Version+1
				f.reply(w, s)
				return
			}
		}
		writeAPIError(w, api.Errorf(api.CodeInvalid, "no version %d", req.ToVersion))
	})
	mux.HandleFunc("POST /v1/services/{name}/promote", func(w http.ResponseWriter, r *http.Request) {
		s := f.services[r.PathValue("name")]
		switch {
		case s == nil:
			f.notFound(w, "service", r.PathValue("name"))
		case !s.UpdateStatus.Held():
			writeAPIError(w, api.Errorf(api.CodeConflict, "service %q has no update held in canary to promote", s.Spec.Name))
		default:
			st := *s.UpdateStatus
			st.State, st.Promoted = api.UpdateUpdating, true
			s.UpdateStatus = &st
			f.reply(w, s)
		}
	})
	mux.HandleFunc("DELETE /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		if f.services[r.PathValue("name")] == nil {
			f.notFound(w, "service", r.PathValue("name"))
			return
		}
		delete(f.services, r.PathValue("name"))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/services/{name}/tasks", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if f.services[name] == nil {
			f.notFound(w, "service", name)
			return
		}
		f.step(name)
		out := f.tasks[name]
		if out == nil {
			out = []api.TaskInfo{}
		}
		f.reply(w, out)
	})
	mux.HandleFunc("GET /v1/services/{name}/logs", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, f.logs)
	})
	f.srv, f.addr = serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
		f.reqIDs = append(f.reqIDs, r.Header.Get(api.HeaderRequestID))
		if f.failNext > 0 {
			f.failNext--
			writeAPIError(w, api.Errorf(api.CodeNoLeader, "no leader"))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) node(name string) *api.NodeInfo {
	for i := range f.nodes {
		if f.nodes[i].Name == name {
			return &f.nodes[i]
		}
	}
	return nil
}

// step advances the fake scheduler for one service (f.mu held).
func (f *fakeAPI) step(name string) {
	s := f.services[name]
	stuck := strings.Contains(fmt.Sprint(s.Spec.Constraints), "nowhere")
	want := int(s.Spec.Replicas)
	if s.Spec.Mode == api.ModeGlobal {
		want = len(f.nodes)
	}
	s.Desired = uint64(want)
	var kept []api.TaskInfo
	slots := map[string]bool{}
	key := func(slot int, node string) string {
		if s.Spec.Mode == api.ModeGlobal {
			return node
		}
		return fmt.Sprint(slot)
	}
	for _, t := range f.tasks[name] {
		a, b := t.Spec, s.Spec
		a.Replicas, b.Replicas = 0, 0
		if !sameSpec(a, b) || s.Spec.Mode != api.ModeGlobal && int(t.Slot) > want {
			t.DesiredState, t.State = api.TaskShutdown, api.TaskShutdown
		}
		if t.DesiredState == api.TaskRunning {
			slots[key(int(t.Slot), t.NodeName)] = true
			if t.State == api.TaskStarting {
				t.State = api.TaskRunning
			}
		}
		kept = append(kept, t)
	}
	for slot := 1; slot <= want; slot++ {
		node := f.nodes[slot%len(f.nodes)]
		if slots[key(slot, node.Name)] {
			continue
		}
		t := api.TaskInfo{Task: api.Task{
			ID: fmt.Sprintf("task%s%d-v%d-xxxxxxxx", name, slot, s.Version), ServiceID: s.ID, ServiceName: name,
			Slot: uint64(slot), SpecVersion: s.Version, Spec: s.Spec, DesiredState: api.TaskRunning,
			CreatedAt: fixedNow.Add(time.Duration(len(kept)) * time.Second),
			Status:    api.TaskStatus{Timestamp: fixedNow.Add(-5 * time.Second)},
		}}
		if stuck {
			t.State, t.Error = api.TaskPending, "no node satisfies constraint node.labels.zone==nowhere"
		} else {
			t.State, t.NodeID, t.NodeName = api.TaskStarting, node.ID, node.Name
		}
		if s.Spec.Mode == api.ModeGlobal {
			t.Slot = 0
		}
		kept = append(kept, t)
	}
	var running uint64
	s.Pending = nil
	for i := range kept {
		kept[i].Status.State, kept[i].Status.Err = kept[i].State, kept[i].Error
		if kept[i].State == api.TaskRunning && kept[i].Spec.Health != nil {
			kept[i].Health, kept[i].Status.Health = api.HealthHealthy, api.HealthHealthy
		}
		if kept[i].State == api.TaskRunning {
			running++
		}
		if kept[i].State == api.TaskPending {
			s.Pending = []string{kept[i].Error}
		}
	}
	s.Running = running
	f.tasks[name] = kept
}

func (f *fakeAPI) decode(r *http.Request, v any) {
	b, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, string(b))
	if err := json.Unmarshal(b, v); err != nil {
		f.t.Errorf("fake API: bad body %q: %v", b, err)
	}
}

func (f *fakeAPI) reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) notFound(w http.ResponseWriter, kind, name string) {
	writeAPIError(w, api.Errorf(api.CodeNotFound, "%s %q not found", kind, name))
}

func writeAPIError(w http.ResponseWriter, e *api.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(api.HTTPStatus(e.Code))
	_ = json.NewEncoder(w).Encode(api.ErrorResponse{Error: e})
}

// addService stores a running service directly.
func (f *fakeAPI) addService(spec api.ServiceSpec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	spec.Normalize()
	f.services[spec.Name] = &api.ServiceInfo{Service: api.Service{ID: "svc" + spec.Name, Spec: spec, Version: 1,
		CreatedAt: fixedNow.Add(-time.Hour), UpdatedAt: fixedNow.Add(-2 * time.Minute)}}
	f.step(spec.Name)
	f.step(spec.Name)
}

func (f *fakeAPI) log() (requests, bodies []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...), append([]string(nil), f.bodies...)
}

// cli runs the CLI against the fake and returns stdout, stderr and the
// exit code.
func (f *fakeAPI) cli(args ...string) (string, string, int) {
	return f.cliIn("", args...)
}

func (f *fakeAPI) cliIn(stdin string, args ...string) (string, string, int) {
	env := &cliEnv{
		getenv: func(string) string { return "" },
		stdin:  strings.NewReader(stdin),
		now:    func() time.Time { return fixedNow },
		poll:   time.Millisecond,
		tweak:  func(c *api.Client) { c.Backoff = time.Millisecond },
	}
	var out, errOut strings.Builder
	code := runWith(append([]string{"--addr", f.addr}, args...), env, &out, &errOut)
	return out.String(), errOut.String(), code
}
