package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// opsFake is a small in-memory API for the operator and drain commands:
// three voters (n1 leads), and node n2 with three tasks that end one per
// task listing once n2 drains.
type opsFake struct {
	srv  *httptest.Server
	addr string

	mu       sync.Mutex
	leader   string
	drain    api.NodeUpdateRequest
	tasks    []api.TaskInfo
	listings int
}

func newOpsFake(t *testing.T) *opsFake {
	f := &opsFake{leader: "n1"}
	for i, svc := range []string{"web", "web", "db"} {
		f.tasks = append(f.tasks, api.TaskInfo{Task: api.Task{ID: "task" + svc + string(rune('a'+i)), ServiceName: svc, Slot: uint64(i + 1),
			DesiredState: api.TaskRunning, Status: api.TaskStatus{State: api.TaskRunning}}, NodeName: "n2"})
	}
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) { _ = json.NewEncoder(w).Encode(v) }
	mux.HandleFunc("GET /v1/operator/raft/peers", func(w http.ResponseWriter, r *http.Request) {
		cfg := api.RaftConfiguration{Term: 3}
		for _, n := range []string{"n1", "n2", "n3"} {
			s := api.RaftServer{ID: "12D3KooW" + n + "xxxxxxxxxxxxxxxx", Node: n, Address: "10.0.0.1:7947", Voter: true, Leader: n == f.leader, Status: api.NodeReady}
			if !s.Leader && n == "n2" {
				d := api.Duration(12 * time.Millisecond)
				s.LastContact = &d
			}
			cfg.Servers = append(cfg.Servers, s)
		}
		reply(w, cfg)
	})
	mux.HandleFunc("POST /v1/operator/raft/transfer-leadership", func(w http.ResponseWriter, r *http.Request) {
		var req api.TransferLeadershipRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		switch req.To {
		case "", "n2", "n3":
		default:
			writeAPIError(w, api.Errorf(api.CodeNotFound, "no such node: %s", req.To))
			return
		}
		to := req.To
		if to == "" {
			to = "n2"
		}
		prev := f.leader
		f.leader = to
		reply(w, api.TransferLeadershipResponse{Leader: to, LeaderID: "id-" + to, Term: 4, Previous: prev})
	})
	mux.HandleFunc("POST /v1/nodes/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "n2" {
			writeAPIError(w, api.Errorf(api.CodeNotFound, "no such node: %s", r.PathValue("name")))
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&f.drain)
		reply(w, api.NodeInfo{Node: api.Node{Name: "n2", Availability: f.drain.Availability}})
	})
	mux.HandleFunc("GET /v1/nodes/{name}/tasks", func(w http.ResponseWriter, r *http.Request) {
		if f.drain.Availability == api.AvailabilityDrain {
			for i := range f.tasks {
				f.tasks[i].DesiredState = api.TaskShutdown
			}
			if f.listings < len(f.tasks) {
				f.tasks[f.listings].Status.State = api.TaskShutdown
			}
			f.listings++
		}
		reply(w, f.tasks)
	})
	f.srv, f.addr = serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *opsFake) cli(args ...string) (string, string, int) {
	env := &cliEnv{getenv: func(string) string { return "" }, stdin: strings.NewReader(""),
		now: func() time.Time { return fixedNow }, poll: time.Millisecond, tweak: func(c *api.Client) { c.Backoff = time.Millisecond }}
	var out, errOut strings.Builder
	code := runWith(append([]string{"--addr", f.addr}, args...), env, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestRaftListPeersTable(t *testing.T) {
	f := newOpsFake(t)
	out, errOut, code := f.cli("operator", "raft", "list-peers")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NODE") || !strings.Contains(lines[0], "LAST CONTACT") {
		t.Fatalf("table:\n%s", out)
	}
	for _, want := range []string{"n1 +n1xxxxxxxx +10.0.0.1:7947 +leader +true +-$", "n2 .* follower +true +12ms$", "n3 .* follower +true +never$"} {
		found := false
		for _, l := range lines[1:] {
			if matched(want, l) {
				found = true
			}
		}
		if !found {
			t.Errorf("no row matching %q in:\n%s", want, out)
		}
	}
	out, _, code = f.cli("operator", "raft", "list-peers", "-o", "json")
	var cfg api.RaftConfiguration
	if code != 0 || json.Unmarshal([]byte(out), &cfg) != nil || len(cfg.Servers) != 3 || !strings.HasPrefix(cfg.Servers[0].ID, "12D3KooW") {
		t.Fatalf("json (exit %d):\n%s", code, out)
	}
}

func TestRaftTransferLeadership(t *testing.T) {
	f := newOpsFake(t)
	out, errOut, code := f.cli("operator", "raft", "transfer-leadership", "--to", "n3")
	if code != 0 || out != "leadership transferred from n1 to n3 (term 4)\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	out, errOut, code = f.cli("operator", "raft", "transfer-leadership", "--to", "n3")
	if code != 0 || out != "n3 already leads (term 4)\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	_, errOut, code = f.cli("operator", "raft", "transfer-leadership", "--to", "nope")
	if code != 1 || errOut != "shoal: no such node: nope\n" {
		t.Fatalf("unknown node: exit %d, stderr %q", code, errOut)
	}
}

func TestNodeDrainWaitsForTheNodeToEmpty(t *testing.T) {
	f := newOpsFake(t)
	out, errOut, code := f.cli("node", "drain", "n2", "--deadline", "3s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if f.drain.Availability != api.AvailabilityDrain || f.drain.DrainDeadline.Std() != 3*time.Second {
		t.Fatalf("request %+v", f.drain)
	}
	for _, want := range []string{"node n2 draining (deadline 3s)\n", "2 tasks left on n2: db.3 (stopping), web.2 (stopping)\n",
		"1 task left on n2: db.3 (stopping)\n", "node n2 drained in 0s: no tasks left\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestNodeDrainDetachAndErrors(t *testing.T) {
	f := newOpsFake(t)
	out, _, code := f.cli("node", "drain", "n2", "--detach")
	if code != 0 || out != "node n2 draining (deadline 1h0m0s)\n" || f.listings != 0 {
		t.Fatalf("detach: exit %d out %q listings %d", code, out, f.listings)
	}
	_, errOut, code := f.cli("node", "drain", "ghost")
	if code != 1 || errOut != "shoal: no such node: ghost\n" {
		t.Fatalf("unknown node: exit %d stderr %q", code, errOut)
	}
	_, errOut, code = f.cli("node", "drain", "n2", "--deadline", "0s")
	if code != 2 || !strings.Contains(errOut, "--deadline 0s must be positive") {
		t.Fatalf("zero deadline: exit %d stderr %q", code, errOut)
	}
}

// matched reports whether line matches the regular expression re.
func matched(re, line string) bool { return regexp.MustCompile(re).MatchString(line) }
