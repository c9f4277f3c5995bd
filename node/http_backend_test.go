package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// fakeBackend is an apiBackend over an in-memory replica: commands the
// API submits are recorded and, unless submitErr is set, applied through
// state.FSM as a leader would commit them.
type fakeBackend struct {
	t   *testing.T
	fsm *state.FSM

	mu        sync.Mutex
	index     uint64
	views     int         // view calls
	submitted []fakeWrite // what the API submitted
	// submitErr fails every submit; readErr every consistent read.
	submitErr, readErr error
}

// fakeWrite is one submitted command.
type fakeWrite struct {
	Type      api.CommandType
	RequestID string
	Payload   json.RawMessage
}

func (w fakeWrite) String() string {
	return string(w.Type) + " " + w.RequestID + " " + string(w.Payload)
}

func newFakeBackend(t *testing.T) *fakeBackend {
	f := &fakeBackend{t: t, fsm: state.NewFSM(state.NewStore())}
	f.apply(api.CmdBootstrap, api.BootstrapPayload{Cluster: *joinTestCluster(),
		Node: api.Node{ID: "n1", Name: "n1", P2PAddr: "10.0.0.1:7946", Protocol: api.ProtocolVersion}})
	f.apply(api.CmdRegisterNode, api.RegisterNodePayload{Node: api.Node{ID: "n2", Name: "n2", P2PAddr: "10.0.0.2:7946", Protocol: api.ProtocolVersion}})
	return f
}

// apply commits a command to the replica and returns its result.
func (f *fakeBackend) apply(typ api.CommandType, payload any) *state.ApplyResult {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.index++
	p, _ := json.Marshal(payload)
	data, _ := json.Marshal(api.Command{Version: api.CommandVersion, Type: typ, Time: time.Unix(1e9, 0).Add(time.Duration(f.index) * time.Second).UTC(), Payload: p})
	return f.fsm.Apply(state.Entry{Index: f.index, Data: data})
}

func (f *fakeBackend) writes() []fakeWrite {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeWrite(nil), f.submitted...)
}

func (f *fakeBackend) viewCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.views
}

func (f *fakeBackend) view() *state.View {
	f.mu.Lock()
	f.views++
	f.mu.Unlock()
	return f.fsm.Store().View()
}

func (f *fakeBackend) consistentRead(context.Context) error { return f.readErr }
func (f *fakeBackend) leaderTerm() (string, uint64)         { return "n1", 3 }
func (f *fakeBackend) commitIndex() uint64                  { return 0 }
func (f *fakeBackend) events() eventSource                  { return f.fsm }

func (f *fakeBackend) roleOf(n *api.Node) api.Role {
	if n.ID == "n1" {
		return api.RoleLeader
	}
	return api.RoleMember
}

// submitPayload records the command and commits it, stamping a service
// ID as the leader does.
func (f *fakeBackend) submitPayload(_ context.Context, typ api.CommandType, requestID string, payload any) (json.RawMessage, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.submitted = append(f.submitted, fakeWrite{Type: typ, RequestID: requestID, Payload: raw})
	err = f.submitErr
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if p, ok := payload.(api.CreateServicePayload); ok && p.ServiceID == "" {
		p.ServiceID = "svc-" + p.Spec.Name
		payload = p
	}
	res := f.apply(typ, payload)
	if res.Err != nil {
		return nil, res.Err
	}
	return json.Marshal(res.Value)
}

func (f *fakeBackend) callLeader(context.Context, rpcMethod, any, any) error {
	return api.Errorf(api.CodeNoLeader, "no leader is known yet")
}

func (f *fakeBackend) checkRemovable(n *api.Node, force bool) error          { return nil }
func (f *fakeBackend) saveBackup(context.Context) ([]byte, error)            { return nil, nil }
func (f *fakeBackend) apiDNSNames() []string                                 { return nil }
func (f *fakeBackend) faultInjection() bool                                  { return false }
func (f *fakeBackend) injectFault(FaultRequest) (map[string][]string, error) { return nil, nil }
func (f *fakeBackend) removeImageOn(context.Context, string, string) error   { return nil }
func (f *fakeBackend) restoreBackup(context.Context, []byte, bool) (api.RestoreResult, error) {
	return api.RestoreResult{}, nil
}
func (f *fakeBackend) taskLogs(context.Context, *api.Task, bool, int) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader("")), nil
}
func (f *fakeBackend) loadImages(context.Context, io.Reader) ([]api.ImageRef, error) {
	return nil, nil
}

// newFakeAPI is an API server over a fake backend.
func newFakeAPI(t *testing.T) (*fakeBackend, http.Handler) {
	f := newFakeBackend(t)
	s := newAPIServer(apiServerConfig{Backend: f, Log: slog.New(slog.DiscardHandler), Metrics: newMetrics(), Done: t.Context(), Self: "n1"})
	return f, s.srv.Handler
}

// apiCall serves one request: over the local socket when token is "",
// else over TCP with that bearer token.
func apiCall(h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "http://localhost"+path, rd)
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set(api.HeaderRequestID, "req-1")
	e := endpointSocket
	if token != "" {
		e = endpointTCP
		r.Header.Set("Authorization", "Bearer "+token)
	}
	r = r.WithContext(context.WithValue(r.Context(), endpointKey{}, e))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// apiErrorOf decodes an error answer's message.
func apiErrorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body api.ErrorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == nil {
		t.Fatalf("not an error answer: %d %s", rec.Code, rec.Body)
	}
	return body.Error.Message
}

func TestAPIReadsServicesAndNodesFromOneView(t *testing.T) {
	f, h := newFakeAPI(t)
	spec := func(name string, replicas uint64) api.ServiceSpec {
		return api.ServiceSpec{Name: name, Runtime: "process", Command: []string{"x"}, Mode: api.ModeReplicated, Replicas: replicas}
	}
	f.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "s-web", Spec: spec("web", 2)})
	f.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "s-db", Spec: spec("db", 1)})
	task := func(id string, slot uint64, node string, st api.TaskState) api.Task {
		return api.Task{ID: id, ServiceID: "s-web", ServiceName: "web", Slot: slot, SpecVersion: 1, Spec: spec("web", 2), NodeID: node,
			DesiredState: api.TaskRunning, Status: api.TaskStatus{State: st}}
	}
	if res := f.apply(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{task("t1", 1, "n1", api.TaskRunning), task("t2", 2, "n2", api.TaskPending)}}); res.Err != nil {
		t.Fatal(res.Err)
	}

	before := f.viewCalls()
	rec := apiCall(h, "GET", "/v1/services", "", "")
	var svcs []api.ServiceInfo
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &svcs) != nil {
		t.Fatalf("GET /v1/services: %d %s", rec.Code, rec.Body)
	}
	if len(svcs) != 2 || svcs[0].Spec.Name != "db" || svcs[1].Spec.Name != "web" || svcs[1].Desired != 2 || svcs[1].Running != 1 {
		t.Errorf("services: %+v", svcs)
	}
	if n := f.viewCalls() - before; n != 1 {
		t.Errorf("GET /v1/services took %d views, want 1", n)
	}

	before = f.viewCalls()
	rec = apiCall(h, "GET", "/v1/nodes", "", "")
	var nodes []api.NodeInfo
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &nodes) != nil {
		t.Fatalf("GET /v1/nodes: %d %s", rec.Code, rec.Body)
	}
	if len(nodes) != 2 || nodes[0].Name != "n1" || nodes[0].Role != api.RoleLeader || nodes[0].Tasks != 1 ||
		nodes[1].Name != "n2" || nodes[1].Role != api.RoleMember || nodes[1].Tasks != 1 || nodes[1].Address != "10.0.0.2:7946" {
		t.Errorf("nodes: %+v", nodes)
	}
	if n := f.viewCalls() - before; n != 1 {
		t.Errorf("GET /v1/nodes took %d views, want 1", n)
	}

	for _, path := range []string{"/v1/services/web", "/v1/services/web/tasks", "/v1/nodes/n2", "/v1/nodes/n2/tasks", "/v1/cluster"} {
		before = f.viewCalls()
		if rec := apiCall(h, "GET", path, "", ""); rec.Code != 200 {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		if n := f.viewCalls() - before; n != 1 {
			t.Errorf("GET %s took %d views, want 1", path, n)
		}
	}
	if rec := apiCall(h, "GET", "/v1/services/nope", "", ""); rec.Code != 404 || apiErrorOf(t, rec) != "no such service: nope" {
		t.Errorf("GET a missing service: %d %s", rec.Code, rec.Body)
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("reads submitted %+v", w)
	}
}

func TestAPICreateServiceSubmitsTheCommand(t *testing.T) {
	f, h := newFakeAPI(t)
	rec := apiCall(h, "POST", "/v1/services", "", `{"name":"web","runtime":"process","command":["sleep","1"],"replicas":3}`)
	var info api.ServiceInfo
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &info) != nil {
		t.Fatalf("POST /v1/services: %d %s", rec.Code, rec.Body)
	}
	if info.ID != "svc-web" || info.Spec.Name != "web" || info.Desired != 3 {
		t.Errorf("answer: %+v", info)
	}
	w := f.writes()
	if len(w) != 1 || w[0].Type != api.CmdCreateService || w[0].RequestID != "req-1" {
		t.Fatalf("submitted %+v", w)
	}
	var p api.CreateServicePayload
	if err := json.Unmarshal(w[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Spec.Name != "web" || p.Spec.Replicas != 3 || p.Spec.Mode != api.ModeReplicated || p.By != "local" || p.ServiceID != "" {
		t.Errorf("payload: %+v", p)
	}
	if _, ok := f.fsm.Store().ServiceByName("web"); !ok {
		t.Error("the service was not committed")
	}

	// Scaling submits an update built from the committed spec, pinned to
	// its version.
	rec = apiCall(h, "POST", "/v1/services/web", "", `{"replicas":5}`)
	if rec.Code != 200 {
		t.Fatalf("scale: %d %s", rec.Code, rec.Body)
	}
	w = f.writes()
	var u api.UpdateServicePayload
	if len(w) != 2 || w[1].Type != api.CmdUpdateService || json.Unmarshal(w[1].Payload, &u) != nil ||
		u.Name != "web" || u.Spec.Replicas != 5 || u.ExpectVersion != info.Version {
		t.Errorf("scale submitted %+v (%+v)", w, u)
	}
}

func TestAPIWriteErrors(t *testing.T) {
	f, h := newFakeAPI(t)
	for body, want := range map[string]string{
		`{"name":"web","bogus":1}`: `request body: unknown field "bogus"`,
		`{"name":"web"`:            "request body: unexpected EOF",
		`{"name":"Web!","runtime":"process","command":["x"]}`: "spec.name",
	} {
		rec := apiCall(h, "POST", "/v1/services", "", body)
		msg := apiErrorOf(t, rec)
		if rec.Code != 400 || !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Errorf("POST %s: %d %q, want 400 with %q on one line", body, rec.Code, msg, want)
		}
	}
	if w := f.writes(); len(w) != 0 {
		t.Errorf("bad bodies submitted %+v", w)
	}

	// No leader: the write is refused with 503 and the API says why.
	f.submitErr = api.Errorf(api.CodeNoLeader, "no leader is known yet")
	rec := apiCall(h, "POST", "/v1/services", "", `{"name":"web","runtime":"process","command":["x"]}`)
	if rec.Code != http.StatusServiceUnavailable || apiErrorOf(t, rec) != "no leader is known yet" {
		t.Errorf("without a leader: %d %s", rec.Code, rec.Body)
	}
	rec = apiCall(h, "DELETE", "/v1/services/web", "", "")
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("remove without a leader: %d %s", rec.Code, rec.Body)
	}

	// A consistent read that cannot reach the leader is refused, not
	// answered from a possibly stale replica.
	f.readErr = api.Errorf(api.CodeNoLeader, "no leader is known; a consistent read is not possible")
	rec = apiCall(h, "GET", "/v1/services?consistent=true", "", "")
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(apiErrorOf(t, rec), "consistent read") {
		t.Errorf("consistent read without a leader: %d %s", rec.Code, rec.Body)
	}
	if rec := apiCall(h, "GET", "/v1/services", "", ""); rec.Code != 200 {
		t.Errorf("a plain read needs no leader: %d %s", rec.Code, rec.Body)
	}
}

func TestAPIWriteNeedsTheRole(t *testing.T) {
	f, h := newFakeAPI(t)
	token := func(name string, role api.ACLRole) string {
		secret := api.NewAPIToken()
		if res := f.apply(api.CmdCreateACLToken, api.CreateACLTokenPayload{TokenID: "id-" + name, Name: name, Role: role, SecretHash: api.SecretHash(secret)}); res.Err != nil {
			t.Fatal(res.Err)
		}
		return secret
	}
	reader, operator := token("dash", api.ACLReadOnly), token("ci", api.ACLOperator)
	create := `{"name":"web","runtime":"process","command":["x"]}`

	rec := apiCall(h, "POST", "/v1/services", reader, create)
	if rec.Code != http.StatusForbidden || apiErrorOf(t, rec) != "token dash (role read-only) may not POST /v1/services: that needs role operator" {
		t.Errorf("read-only token writes: %d %s", rec.Code, rec.Body)
	}
	if rec := apiCall(h, "GET", "/v1/services", reader, ""); rec.Code != 200 {
		t.Errorf("read-only token reads: %d %s", rec.Code, rec.Body)
	}
	r := httptest.NewRequest("POST", "http://localhost/v1/services", strings.NewReader(create))
	r.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r) // TCP without a token
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d %s", rec.Code, rec.Body)
	}
	if rec := apiCall(h, "POST", "/v1/acl/tokens", operator, `{"name":"x","role":"admin"}`); rec.Code != http.StatusForbidden {
		t.Errorf("operator creates a token: %d %s", rec.Code, rec.Body)
	}
	if w := f.writes(); len(w) != 0 {
		t.Fatalf("refused callers submitted %+v", w)
	}

	rec = apiCall(h, "POST", "/v1/services", operator, create)
	w := f.writes()
	var p api.CreateServicePayload
	if rec.Code != 200 || len(w) != 1 || json.Unmarshal(w[0].Payload, &p) != nil || p.By != "ci" {
		t.Errorf("operator token writes: %d %s, submitted %+v", rec.Code, rec.Body, w)
	}
}
