package node

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/raft"
)

// scrape GETs url and parses the Prometheus text format.
// scrapeAgent scrapes an in-process agent's /metrics over its socket.
func scrapeAgent(t *testing.T, a *Agent) map[string]*dto.MetricFamily {
	t.Helper()
	return scrapeWith(t, socketClient(a), "http://localhost/metrics")
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	return scrapeWith(t, http.DefaultClient, url)
}

func scrapeWith(t *testing.T, hc *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value returns the value of the family's sample whose labels include
// want, and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsHandlerExportsFamilies(t *testing.T) {
	m := newMetrics()
	m.reg.MustRegister(newStateCollector(stateSources{
		raft: func() raft.Stats {
			return raft.Stats{Term: 3, CommitIndex: 42, AppliedIndex: 41, LastLogIndex: 43, Leader: true, LeaderChanges: 2, Snapshots: 1}
		},
		members: func() []gossip.Member {
			return []gossip.Member{{Name: "a", State: gossip.MemberAlive}, {Name: "b", State: gossip.MemberAlive}, {Name: "c", State: gossip.MemberDead}}
		},
		tasks: func() []*api.Task {
			return []*api.Task{
				{ID: "t1", Status: api.TaskStatus{State: api.TaskPending, Err: "no suitable node: 1 down, 2 with too little memory"}},
				{ID: "t2", Status: api.TaskStatus{State: api.TaskPending, Err: "no suitable node: 3 with too little memory"}},
				{ID: "t3", Status: api.TaskStatus{State: api.TaskRunning}},
			}
		},
		local: func() []api.Task {
			return []api.Task{{ID: "t3", Status: api.TaskStatus{State: api.TaskRunning}}, {ID: "t4", Status: api.TaskStatus{State: api.TaskFailed}}}
		},
		fetched: func() uint64 { return 1 << 20 },
	}))
	m.Committed(3 * time.Millisecond)
	m.Applied(api.CmdWriteTasks, 50*time.Microsecond)
	m.taskStarted(0, time.Second)
	m.taskStarted(2, time.Second)
	m.placements.Add(5)
	m.reconcileDuration.WithLabelValues("reaper").Observe(0.01)

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.handler())
	mux.HandleFunc("GET /v1/nodes/{name}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	srv := httptest.NewServer(m.instrument(mux))
	defer srv.Close()
	for _, name := range []string{"n1", "n2", "n3"} {
		resp, err := http.Get(srv.URL + "/v1/nodes/" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	fams := scrape(t, srv.URL+"/metrics")

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"shoal_raft_term", nil, 3},
		{"shoal_raft_commit_index", nil, 42},
		{"shoal_raft_applied_index", nil, 41},
		{"shoal_raft_last_log_index", nil, 43},
		{"shoal_raft_is_leader", nil, 1},
		{"shoal_raft_leader_changes_total", nil, 2},
		{"shoal_raft_snapshots_total", nil, 1},
		{"shoal_raft_commit_latency_seconds", nil, 1},
		{"shoal_raft_fsm_apply_duration_seconds", map[string]string{"type": string(api.CmdWriteTasks)}, 1},
		{"shoal_raft_fsm_apply_duration_seconds", map[string]string{"type": string(api.CmdBootstrap)}, 0},
		{"shoal_gossip_members", map[string]string{"state": "alive"}, 2},
		{"shoal_gossip_members", map[string]string{"state": "dead"}, 1},
		{"shoal_gossip_members", map[string]string{"state": "left"}, 0},
		{"shoal_gossip_member_failures_total", nil, 0},
		{"shoal_scheduler_pending_tasks", map[string]string{"reason": "down"}, 1},
		{"shoal_scheduler_pending_tasks", map[string]string{"reason": "memory"}, 1},
		{"shoal_scheduler_pending_tasks", map[string]string{"reason": "cpu"}, 0},
		{"shoal_scheduler_placements_total", nil, 5},
		{"shoal_reconcile_pass_duration_seconds", map[string]string{"loop": "reaper"}, 1},
		{"shoal_executor_tasks", map[string]string{"state": "running"}, 1},
		{"shoal_executor_tasks", map[string]string{"state": "failed"}, 1},
		{"shoal_executor_task_start_latency_seconds", nil, 2},
		{"shoal_executor_task_restarts_total", nil, 1},
		{"shoal_image_peer_fetched_bytes_total", nil, 1 << 20},
		{"shoal_http_requests_total", map[string]string{"route": "GET /v1/nodes/{name}", "code": "404"}, 3},
		{"shoal_http_request_duration_seconds", map[string]string{"route": "GET /v1/nodes/{name}"}, 3},
		{"go_goroutines", nil, -1},
		{"process_start_time_seconds", nil, -1},
	} {
		got, ok := value(fams, c.name, c.labels)
		if !ok || (c.want >= 0 && got != c.want) {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// Raw paths never become labels.
	for _, m := range fams["shoal_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && l.GetValue() == "/v1/nodes/n1" {
				t.Errorf("raw path %q used as a route label", l.GetValue())
			}
		}
	}
}

func TestPendingReason(t *testing.T) {
	for err, want := range map[string]string{
		"":                           "unexplained",
		"no suitable node: no nodes": "no_nodes",
		"no suitable node":           "other",
		"no suitable node: 2 not active (paused or draining), 1 with too little cpu": "inactive",
		"no suitable node: 1 excluded by constraint node.labels.zone==down":          "constraint",
		"no suitable node: 3 with port 8080/tcp in use":                              "port",
		"no suitable node: 3 at max 1 task per node":                                 "max_per_node",
		"no suitable node: 1 without runtime containerd":                             "runtime",
		`constraint "x": bad operator`:                                               "invalid_spec",
	} {
		if got := pendingReason(err); got != want {
			t.Errorf("pendingReason(%q) = %q, want %q", err, got, want)
		}
	}
}

// Two agents in one process each serve their own registry with real Raft
// state.
func TestMetricsEndpointOnInProcessAgents(t *testing.T) {
	c1 := testAgentConfig(t, "m1")
	c1.Bootstrap = true
	a1 := startTestAgent(t, c1)
	c2 := testAgentConfig(t, "m2")
	c2.Join, c2.Token = a1.host.Addr(), a1.Token()
	a2 := startTestAgent(t, c2)
	eventually(t, 20*time.Second, "m2 applied the leader's index", func() bool {
		return a2.store().AppliedIndex() > 0 && a2.store().AppliedIndex() >= a1.store().AppliedIndex()
	})
	for _, a := range []*Agent{a1, a2} {
		fams := scrapeAgent(t, a)
		leader, _ := value(fams, "shoal_raft_is_leader", nil)
		applied, ok := value(fams, "shoal_raft_applied_index", nil)
		alive, _ := value(fams, "shoal_gossip_members", map[string]string{"state": "alive"})
		if !ok || applied == 0 || (a == a1) != (leader == 1) || alive < 1 {
			t.Errorf("%s: is_leader %v, applied %v, alive members %v", a.cfg.Name, leader, applied, alive)
		}
	}
	fams := scrapeAgent(t, a1)
	if n, _ := value(fams, "shoal_raft_commit_latency_seconds", nil); n == 0 {
		t.Errorf("leader observed no commit latency")
	}
	if n, _ := value(fams, "shoal_raft_leader_changes_total", nil); n < 1 {
		t.Errorf("leader changes = %v, want >= 1", n)
	}
}
