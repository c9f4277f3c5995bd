package node

import (
	"net"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
	"github.com/shoal-project/shoal/state"
)

// The state feed keeps a replica of the cluster state on nodes that are
// not Raft servers (plain members), so that a 1000-node cluster has a
// handful of Raft peers yet every node serves reads and knows the members.
// The leader streams the committed log entries it applied, in order and with
// their Raft indexes; a member applies them to its own FSM, which is
// deterministic, so its state equals the leader's at the same index. A
// member too far behind for the leader's in-memory window gets a snapshot
// first.
const feedProtocol = "/shoal/feed/1"

const maxFeedFrame = 256 << 20

type feedRequest struct {
	From uint64 `json:"from"`
}

type feedFrame struct {
	LeaderID string        `json:"leader_id"`
	Term     uint64        `json:"term"`
	Snapshot []byte        `json:"snapshot,omitempty"`
	Entries  []state.Entry `json:"entries,omitempty"`
	Error    *api.Error    `json:"error,omitempty"`
}

// readFeedRequest reads the member's opening request (both protocols).
func readFeedRequest(c net.Conn) (feedRequest, bool) {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var req feedRequest
	if err := p2p.ReadFrame(c, &req, 4<<10); err != nil {
		return req, false
	}
	c.SetReadDeadline(time.Time{})
	return req, true
}

// feedDenied reports whether the member at the other end of a feed stream
// was removed from the cluster: the feed stops at once, before the next
// frame (the gater refuses new connections, and the membership loop
// closes this one).
func (a *Agent) feedDenied(member string) bool {
	if a.denied(member) {
		a.log.Warn("state feed: stopped for a removed node", "node", a.deniedName(member))
		return true
	}
	return false
}

// serveFeed streams applied entries to one member while this node leads
// and the member is not denied.
func (a *Agent) serveFeed(c net.Conn) {
	defer c.Close()
	req, ok := readFeedRequest(c)
	if !ok {
		return
	}
	fsm := a.cons.FSM()
	next := req.From + 1
	member := c.RemoteAddr().String()
	for a.ctx.Err() == nil && !a.feedDenied(member) {
		// The leader and its term are read together: a deposed leader must
		// not stamp its successor's term on its own name.
		leader, term := a.cons.LeaderTerm()
		if leader != a.ID() {
			p2p.WriteFrame(c, feedFrame{Error: api.Errorf(api.CodeNoLeader, "not the leader"), LeaderID: leader})
			return
		}
		changed := fsm.EntriesChanged()
		frame := feedFrame{LeaderID: leader, Term: term}
		entries, ok := fsm.EntriesSince(next)
		if !ok {
			snap, index, err := a.feedSnapshot(false)
			if err != nil {
				a.log.Warn("state feed: snapshot failed", "err", err)
				return
			}
			frame.Snapshot = snap
			next = index + 1
			entries, _ = fsm.EntriesSince(next)
		}
		// JSON doubles as base64 (4/3 of the data): keep frames well
		// under WriteFrame's limit, so a member far behind catches up.
		more := false
		if cut := cutEntries(entries, feedFrameBytes); len(cut) < len(entries) {
			entries, more = cut, true
		}
		frame.Entries = entries
		if n := len(entries); n > 0 {
			next = entries[n-1].Index + 1
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := p2p.WriteFrame(c, frame); err != nil {
			a.log.Warn("state feed: write failed", "member", c.RemoteAddr().String(), "err", err)
			return
		}
		if more {
			continue
		}
		if !a.awaitFeed(changed, nil, time.Time{}, 0) {
			return
		}
	}
}
