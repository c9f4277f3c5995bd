package node

import (
	"context"
	"time"

	"github.com/shoal-project/shoal/api"
)

// Run serves until ctx is cancelled, then shuts down cleanly: the node
// records that it is restarting (unless it leaves for good), a leader hands
// leadership over, and the node leaves the gossip pool gracefully.
func (a *Agent) Run(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-a.ctx.Done():
	}
	a.shutdown()
	return nil
}

func (a *Agent) shutdown() {
	a.stopping.Store(true)
	if a.cons != nil && !a.cfg.LeaveOnTerminate {
		a.announceRestart()
	}
	if a.cons != nil && a.cons.IsLeader() && a.otherVoters() > 0 {
		if err := a.cons.TransferLeadership(); err != nil {
			a.log.Warn("leadership not handed over", "err", err)
		} else {
			a.log.Info("handed leadership over", "term", a.cons.Term())
		}
	}
	if a.gossip != nil {
		a.gossip.Leave(2 * time.Second)
	}
	a.close()
}

// announceRestart records that this node is restarting, so the leader
// keeps its tasks in place for the restart grace instead of replacing them.
// Without a leader (or in a cluster with nodes too old to know the
// command) the node is treated as failed when it goes, as before.
func (a *Agent) announceRestart() {
	if a.leaderID() == "" {
		a.log.Warn("restart not announced: no leader (tasks may move elsewhere)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	grace := time.Duration(a.cfg.RestartGrace)
	if _, err := a.submitPayload(ctx, api.CmdNodeRestarting, "", api.NodeRestartingPayload{NodeID: a.ID(), Grace: grace}); err != nil {
		a.log.Warn("restart not announced (tasks may move elsewhere)", "err", err)
		return
	}
	a.log.Info("restarting: this node's tasks keep their places for "+grace.String(), "node", a.cfg.Name, "grace", grace)
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
