package node

import (
	"fmt"
)

// startServices starts the network handlers and the loops every node runs.
func (a *Agent) startServices() error {
	if err := a.host.HandleRPC(rpcProtocol, true, a.handleRPC); err != nil {
		return fmt.Errorf("rpc: %v", err)
	}
	a.joins = newJoinServer(a)
	jl, err := a.host.Listen(joinProtocol, false)
	if err != nil {
		return fmt.Errorf("join listener: %v", err)
	}
	a.feed = newFeedClient(a)
	if err := a.startFeedServer(); err != nil {
		return err
	}
	if err := a.startLogsServer(); err != nil {
		return err
	}
	if err := a.startExecutor(); err != nil {
		return err
	}
	a.goLoop(func() { a.joins.serve(jl) })
	a.goLoop(func() { <-a.ctx.Done(); jl.Close() })
	a.goLoop(a.api.serve)
	a.goLoop(func() { a.membershipLoop(a.ctx) })
	a.goLoop(func() { a.gossipEventLoop(a.ctx) })
	a.goLoop(func() { a.leadershipLoop(a.ctx) })
	a.goLoop(func() { a.feed.run(a.ctx) })
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
