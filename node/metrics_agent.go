package node

import (
	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
)

// registerStateMetrics exports the agent's Raft, gossip, task and image
// state, read at each scrape. Call it once every part has started.
func (a *Agent) registerStateMetrics() {
	src := stateSources{
		raft:    a.cons.Stats,
		members: a.gossip.Members,
		tasks:   func() []*api.Task { return a.store().Tasks() },
		local:   a.executor.Assignments,
	}
	if a.containerd != nil && a.containerd.fetcher != nil {
		src.fetched = a.containerd.fetcher.BytesFetched
	}
	a.metrics.reg.MustRegister(newStateCollector(src))
}

// countMemberFailure counts a gossip event that declares a member dead.
func (a *Agent) countMemberFailure(ev gossip.Event) {
	if ev.Type == gossip.EventDead {
		a.metrics.memberFailures.Inc()
	}
}
