package node

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/raft"
)

// stateSources are the narrow reads stateCollector makes at scrape time.
// Each is cheap and takes no lock the FSM holds for long; a nil source
// leaves its families out.
type stateSources struct {
	raft    func() raft.Stats
	members func() []gossip.Member
	// tasks is the replicated task list (the pending ones are counted).
	tasks func() []*api.Task
	// local is what this node's executor runs.
	local func() []api.Task
	// fetched is the byte count of image blobs received from peers.
	fetched func() uint64
}

// stateCollector exports state read at scrape time.
type stateCollector struct {
	src stateSources

	term, commit, applied, lastLog, leader *prometheus.Desc
	leaderChanges, snapshots               *prometheus.Desc
	members, pending, local, fetched       *prometheus.Desc
}

func newStateCollector(src stateSources) *stateCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &stateCollector{
		src:           src,
		term:          d("shoal_raft_term", "Current Raft term of this server."),
		commit:        d("shoal_raft_commit_index", "Highest Raft log index this server knows to be committed."),
		applied:       d("shoal_raft_applied_index", "Raft log index the local replica of the state reflects."),
		lastLog:       d("shoal_raft_last_log_index", "Last Raft log index stored on this server."),
		leader:        d("shoal_raft_is_leader", "1 if this server is the Raft leader, else 0."),
		leaderChanges: d("shoal_raft_leader_changes_total", "Changes to a new known Raft leader seen by this server."),
		snapshots:     d("shoal_raft_snapshots_total", "Raft snapshots of the state taken by this server since it started."),
		members:       d("shoal_gossip_members", "Gossip members this node knows, itself included, by state (memberlist reports no suspicion, so suspect stays 0).", "state"),
		pending:       d("shoal_scheduler_pending_tasks", "Pending tasks in the replicated state, by the first reason the scheduler gave.", "reason"),
		local:         d("shoal_executor_tasks", "Tasks assigned to this node, by observed state.", "state"),
		fetched:       d("shoal_image_peer_fetched_bytes_total", "Bytes of image blobs fetched from peers and verified."),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.term, c.commit, c.applied, c.lastLog, c.leader,
		c.leaderChanges, c.snapshots, c.members, c.pending, c.local, c.fetched} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	if c.src.raft != nil {
		s := c.src.raft()
		gauge(c.term, float64(s.Term))
		gauge(c.commit, float64(s.CommitIndex))
		gauge(c.applied, float64(s.AppliedIndex))
		gauge(c.lastLog, float64(s.LastLogIndex))
		gauge(c.leader, boolFloat(s.Leader))
		counter(c.leaderChanges, float64(s.LeaderChanges))
		counter(c.snapshots, float64(s.Snapshots))
	}
	if c.src.members != nil {
		counts := map[gossip.MemberState]int{}
		for _, m := range c.src.members() {
			counts[m.State]++
		}
		for _, s := range []gossip.MemberState{gossip.MemberAlive, gossip.MemberSuspect, gossip.MemberDead, gossip.MemberLeft} {
			gauge(c.members, float64(counts[s]), s.String())
		}
	}
	if c.src.tasks != nil {
		counts := map[string]int{}
		for _, t := range c.src.tasks() {
			if t.Status.State == api.TaskPending && t.Active() {
				counts[pendingReason(t.Status.Err)]++
			}
		}
		for _, r := range pendingReasons {
			gauge(c.pending, float64(counts[r]), r)
		}
	}
	if c.src.local != nil {
		counts := map[api.TaskState]int{}
		for _, t := range c.src.local() {
			counts[t.Status.State]++
		}
		for s := api.TaskNew; s <= api.TaskOrphaned; s++ {
			gauge(c.local, float64(counts[s]), s.String())
		}
	}
	if c.src.fetched != nil {
		counter(c.fetched, float64(c.src.fetched()))
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
