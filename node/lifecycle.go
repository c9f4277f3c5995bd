package node

import (
	"context"
	"time"
)

// Run serves until ctx is cancelled, then shuts down cleanly: a leader hands
// leadership over first, and the node leaves the gossip pool gracefully.
func (a *Agent) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-a.ctx.Done():
	}
	a.shutdown()
	return nil
}

func (a *Agent) shutdown() {
	if a.cons != nil && a.cons.IsLeader() && a.otherVoters() > 0 {
		if err := a.cons.TransferLeadership(); err != nil {
			a.log.Printf("leadership transfer: %v", err)
		} else {
			a.log.Printf("handed leadership over")
		}
	}
	if a.gossip != nil {
		a.gossip.Leave(2 * time.Second)
	}
	a.close()
}

// otherVoters counts the voters besides this node.
func (a *Agent) otherVoters() int {
	servers, err := a.cons.Servers()
	if err != nil {
		return 0
	}
	n := 0
	for _, s := range servers {
		if s.Voter && s.ID != a.ID() {
			n++
		}
	}
	return n
}

// close stops everything that was started, in reverse order. It may be
// called more than once.
func (a *Agent) close() { a.closeOnce.Do(a.closeNow) }

func (a *Agent) closeNow() {
	a.cancel()
	if a.api != nil {
		a.api.close()
	}
	a.wg.Wait()
	if a.gossip != nil {
		a.gossip.Shutdown()
	}
	if a.cons != nil {
		a.cons.Shutdown()
	}
	if a.host != nil {
		a.host.Close()
	}
}
