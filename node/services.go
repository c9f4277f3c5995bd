package node

import (
	"fmt"
	"net"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/shoal-project/shoal/api"
)

// startServices starts the network handlers and the loops every node runs.
func (a *Agent) startServices() error {
	a.joins = newJoinServer(a, a.log)
	if err := a.serveProtocol(joinProtocol, false, a.joins.handle); err != nil {
		return err
	}
	a.reports = newReportBatcher(a.commitAsLeader, func(cmd api.Command) bool {
		return api.CheckProtocol(cmd, a.store().Nodes()) == nil
	})
	a.feed = newFeedClient(a, a.cons.FSM(), a.log)
	if err := a.serveProtocol(feedProtocol, true, a.serveFeed); err != nil {
		return err
	}
	a.feedPacked = newPackedEntries(8192)
	if err := a.serveProtocol(feedProtocol2, true, a.serveFeed2); err != nil {
		return err
	}
	if err := a.serveProtocol(logsProtocol, true, a.serveLogs); err != nil {
		return err
	}
	if err := a.serveProtocol(restoreProtocol, true, a.serveRestore); err != nil {
		return err
	}
	if err := a.startExecutor(); err != nil {
		return err
	}
	a.registerStateMetrics()
	a.host.OnDisconnect(a.connectionLost)
	a.goLoop(a.api.serve)
	a.goLoop(func() { a.membershipLoop(a.ctx) })
	a.goLoop(func() { a.gossipEventLoop(a.ctx) })
	a.goLoop(func() { a.leadershipLoop(a.ctx) })
	a.goLoop(func() { a.feed.run(a.ctx) })
	wakeFeeds := a.feedWake.start(a.cons.FSM())
	a.goLoop(func() { wakeFeeds(a.ctx) })
	a.goLoop(func() { a.keyLoop(a.ctx) })
	a.goLoop(func() { a.dnsLoop(a.ctx) })
	a.goLoop(func() { a.reports.run(a.ctx) })
	a.goLoop(func() { a.trafficLoop(a.ctx) })
	if a.containerd != nil {
		a.goLoop(func() { a.routesLoop(a.ctx) })
	}
	a.serving.Store(true)
	return nil
}

// serveProtocol accepts streams of one libp2p protocol until the agent
// stops, handling each in its own goroutine.
func (a *Agent) serveProtocol(proto string, membersOnly bool, handle func(net.Conn)) error {
	l, err := a.host.Listen(protocol.ID(proto), membersOnly)
	if err != nil {
		return fmt.Errorf("%s: %v", proto, err)
	}
	a.goLoop(func() { <-a.ctx.Done(); l.Close() })
	a.goLoop(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	})
	return nil
}

// goLoop runs f in a goroutine that close waits for.
func (a *Agent) goLoop(f func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}
