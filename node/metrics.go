package node

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// metrics is one agent's Prometheus registry (never the global one:
// several agents share a test process) and the instruments its parts
// update as things happen. State that can be read at scrape time (Raft
// indexes, members, tasks) is exported by collectors instead (metrics_*.go).
type metrics struct {
	reg *prometheus.Registry

	commitLatency     prometheus.Histogram
	appendRPC         *prometheus.HistogramVec
	applyDuration     *prometheus.HistogramVec
	memberFailures    prometheus.Counter
	placements        prometheus.Counter
	reconcileDuration *prometheus.HistogramVec
	taskStartLatency  prometheus.Histogram
	taskRestarts      prometheus.Counter
	requests          *prometheus.CounterVec
	requestDuration   *prometheus.HistogramVec
	serviceBackends   *prometheus.GaugeVec
	ingressConns      *prometheus.CounterVec
}

// latencyBuckets span 1 ms to about 16 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)

// newMetrics makes a registry with the Go and process collectors and the
// agent's event instruments.
func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shoal_raft_commit_latency_seconds", Buckets: latencyBuckets,
		Help: "Time from proposing a command on this leader to its being applied here.",
	})
	m.appendRPC = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "shoal_raft_append_entries_rpc_seconds", Buckets: latencyBuckets,
		Help: "Time of each AppendEntries this node sent to another server (as leader), by kind (heartbeat: no entries; replicate) and outcome (answered or failed). A leader steps down when a quorum's heartbeats go unanswered for the lease timeout.",
	}, []string{"kind", "outcome"})
	m.applyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "shoal_raft_fsm_apply_duration_seconds", Buckets: prometheus.ExponentialBuckets(0.00001, 4, 10),
		Help: "Time the state machine took to apply one committed command, by command type.",
	}, []string{"type"})
	m.memberFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shoal_gossip_member_failures_total",
		Help: "Remote members gossip declared dead (failed probes and suspicion, not graceful leaves).",
	})
	m.placements = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shoal_scheduler_placements_total",
		Help: "Tasks this node's allocator placed on a node, while it led.",
	})
	m.reconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "shoal_reconcile_pass_duration_seconds", Buckets: latencyBuckets,
		Help: "Time of one leader reconcile pass (compute and commit), by loop.",
	}, []string{"loop"})
	m.taskStartLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "shoal_executor_task_start_latency_seconds", Buckets: latencyBuckets,
		Help: "Time from a task's assignment to this node to its workload running.",
	})
	m.taskRestarts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shoal_executor_task_restarts_total",
		Help: "Tasks started on this node that replace an earlier task of their slot (restart, failure or update).",
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_http_requests_total",
		Help: "HTTP API requests served, by route pattern and status code.",
	}, []string{"route", "code"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "shoal_http_request_duration_seconds", Buckets: latencyBuckets,
		Help: "HTTP API request latency, by route pattern.",
	}, []string{"route"})
	m.serviceBackends = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "shoal_service_backends",
		Help: "Tasks of each service with an endpoint that this node sends new connections to (VIP and ingress).",
	}, []string{"service"})
	m.ingressConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shoal_ingress_connections_total",
		Help: "Connections (TCP) and client sessions (UDP) this node's userspace ingress proxy forwarded (PROXY protocol and UDP ports), by service and protocol.",
	}, []string{"service", "protocol"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.commitLatency, m.appendRPC, m.applyDuration, m.memberFailures, m.placements,
		m.reconcileDuration, m.taskStartLatency, m.taskRestarts,
		m.requests, m.requestDuration, m.serviceBackends, m.ingressConns,
	)
	for _, t := range state.CommandTypes() {
		m.applyDuration.WithLabelValues(string(t))
	}
	return m
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Committed implements raft.Observer.
func (m *metrics) Committed(d time.Duration) { m.commitLatency.Observe(d.Seconds()) }

// AppendSent records one AppendEntries RPC (see raft.ContactTransport).
func (m *metrics) AppendSent(heartbeat bool, took time.Duration, answered bool) {
	kind, outcome := "replicate", "answered"
	if heartbeat {
		kind = "heartbeat"
	}
	if !answered {
		outcome = "failed"
	}
	m.appendRPC.WithLabelValues(kind, outcome).Observe(took.Seconds())
}

// Applied implements raft.Observer.
func (m *metrics) Applied(typ api.CommandType, d time.Duration) {
	m.applyDuration.WithLabelValues(string(typ)).Observe(d.Seconds())
}

// taskStarted records a workload the executor started.
func (m *metrics) taskStarted(attempt uint64, latency time.Duration) {
	m.taskStartLatency.Observe(latency.Seconds())
	if attempt > 0 {
		m.taskRestarts.Inc()
	}
}

// setGauge makes g hold exactly values, one series per key.
func setGauge(g *prometheus.GaugeVec, values map[string]int) {
	g.Reset()
	for k, v := range values {
		g.WithLabelValues(k).Set(float64(v))
	}
}
