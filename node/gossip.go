package node

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/shoal-project/shoal/gossip"
)

// startGossip joins the cluster's memberlist.
func (a *Agent) startGossip() error {
	var transport memberlist.NodeAwareTransport
	if a.cfg.FaultInjection {
		nt, err := gossip.NewNetTransport(a.cfg.Bind, a.cfg.GossipPort, nil)
		if err != nil {
			return fmt.Errorf("gossip port %d: %v", a.cfg.GossipPort, err)
		}
		ft := gossip.NewFaultTransport(nt)
		a.faults = &faultState{transport: ft, blocked: map[string]string{}}
		transport = ft
	}
	g, err := gossip.Start(gossip.Config{
		Transport:   transport,
		Name:        a.cfg.Name,
		BindIP:      a.cfg.Bind,
		Port:        a.cfg.GossipPort,
		AdvertiseIP: a.advertiseIP,
		SecretKey:   a.state.GossipKey,
		Label:       "shoal-" + a.state.ClusterID,
		Meta:        gossip.Meta{NodeID: a.host.ID().String(), P2PPort: uint16(mustAtoi(portOf(a.host.Addr()))), APIAddr: a.api.addr(), ClusterID: a.state.ClusterID},
		Timings:     a.gossipTimings(),
		Denied:      a.denied,
		Logger:      a.log.With("logger", "gossip"),
	})
	if err != nil {
		return fmt.Errorf("gossip port %d: %v", a.cfg.GossipPort, err)
	}
	a.gossip = g
	if a.cfg.GossipPort == 0 {
		a.cfg.GossipPort = mustAtoi(portOf(g.Addr()))
	}
	var seeds []string
	for _, p := range a.state.peers() {
		if p.ID != a.host.ID().String() && p.GossipAddr != "" {
			seeds = append(seeds, p.GossipAddr)
		}
	}
	if len(seeds) > 0 {
		if _, err := g.Join(seeds); err != nil {
			a.log.Warn("gossip: no peer answered yet; will keep trying", "err", err)
		}
	}
	return nil
}

func (a *Agent) gossipTimings() gossip.Timings {
	t := gossip.LANTimings()
	if d := a.cfg.Gossip.ProbeInterval; d > 0 {
		t.ProbeInterval = time.Duration(d)
	}
	if d := a.cfg.Gossip.ProbeTimeout; d > 0 {
		t.ProbeTimeout = time.Duration(d)
	}
	if m := a.cfg.Gossip.SuspicionMult; m > 0 {
		t.SuspicionMult = m
	}
	return t
}
