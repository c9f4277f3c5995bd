package gossip

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// leaveIntentTag starts a leave-intent user message; the node name follows.
const leaveIntentTag = 'L'

func encodeLeaveIntent(name string) []byte {
	return append([]byte{leaveIntentTag}, name...)
}

func decodeLeaveIntent(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != leaveIntentTag {
		return "", false
	}
	return string(b[1:]), true
}

// onLeaveIntent remembers that name is leaving gracefully. If memberlist
// already declared it dead (the intent lost the race with the dead
// message), the member is corrected to left and EventLeave follows the
// EventDead.
func (g *Gossip) onLeaveIntent(name string) {
	if name == g.name {
		return
	}
	now := time.Now()
	g.mu.Lock()
	for n, at := range g.leaving {
		if now.Sub(at) > g.deadTTL {
			delete(g.leaving, n)
		}
	}
	e := g.members[name]
	if e == nil || e.State != MemberDead || now.Sub(e.Since) > g.deadTTL {
		g.leaving[name] = now
		g.mu.Unlock()
		return
	}
	e.State, e.Since = MemberLeft, now
	delete(g.failed, name)
	m := e.Member
	g.mu.Unlock()
	g.emit(Event{Type: EventLeave, Member: m})
}

// sendLeaveIntents tells every alive member over TCP that this node is
// leaving, waiting at most budget for the sends.
func (g *Gossip) sendLeaveIntents(budget time.Duration) {
	msg := encodeLeaveIntent(g.name)
	var wg sync.WaitGroup
	for _, m := range g.Members() {
		if m.Name == g.name || m.State != MemberAlive {
			continue
		}
		host, portStr, err := net.SplitHostPort(m.Addr)
		port, perr := strconv.ParseUint(portStr, 10, 16)
		if err != nil || perr != nil {
			continue
		}
		node := &memberlist.Node{Name: m.Name, Addr: net.ParseIP(host), Port: uint16(port)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.ml.SendReliable(node, msg); err != nil {
				g.logger.Warn("gossip: leave intent not sent", "member", node.Name, "err", err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(budget)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}
