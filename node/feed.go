package node

import (
	"context"
	"github.com/shoal-project/shoal/state"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/p2p"
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

// serveFeed streams applied entries to one member while this node leads.
func (a *Agent) serveFeed(c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var req feedRequest
	if err := p2p.ReadFrame(c, &req, 4<<10); err != nil {
		return
	}
	c.SetReadDeadline(time.Time{})
	fsm := a.cons.FSM()
	next := req.From + 1
	for a.ctx.Err() == nil {
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
			snap, index, err := a.store().SnapshotJSON()
			if err != nil {
				return
			}
			frame.Snapshot = snap
			next = index + 1
			entries, _ = fsm.EntriesSince(next)
		}
		frame.Entries = entries
		if n := len(entries); n > 0 {
			next = entries[n-1].Index + 1
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := p2p.WriteFrame(c, frame); err != nil {
			return
		}
		select {
		case <-a.ctx.Done():
			return
		case <-changed:
		case <-time.After(time.Second): // heartbeat: the member learns the term and that we still lead
		}
	}
}

// feedClient follows the leader's feed while this node is not a Raft
// server.
type feedClient struct {
	a        *Agent
	mu       sync.Mutex
	leaderID string
	termSeen uint64
}

func newFeedClient(a *Agent) *feedClient { return &feedClient{a: a} }

// leaderTerm is the leader the feed follows and the term it leads in.
func (f *feedClient) leaderTerm() (string, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaderID, f.termSeen
}

func (f *feedClient) setLeader(id string, term uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leaderID, f.termSeen = id, term
}

func (f *feedClient) run(ctx context.Context) {
	for ctx.Err() == nil {
		if f.a.raftActive() {
			f.setLeader("", 0)
			ctxutil.Sleep(ctx, 250*time.Millisecond)
			continue
		}
		leader := f.discoverLeader(ctx)
		if leader == "" {
			ctxutil.Sleep(ctx, 250*time.Millisecond)
			continue
		}
		if err := f.follow(ctx, leader); err != nil && ctx.Err() == nil {
			f.a.log.Warn("state feed interrupted", "leader", api.ShortID(leader), "err", err)
			f.setLeader("", 0)
			ctxutil.Sleep(ctx, 100*time.Millisecond)
		}
	}
}

// raftActive is true while this node is in the Raft configuration and
// hears from a leader, so Raft itself keeps its replica current.
func (a *Agent) raftActive() bool {
	servers, err := a.cons.Servers()
	return err == nil && a.isRaftServer(servers) && a.cons.Leader() != ""
}

// discoverLeader asks known peers who leads, voters first, and takes the
// answer with the highest term.
func (f *feedClient) discoverLeader(ctx context.Context) string {
	nodes := f.a.store().Nodes()
	type cand struct {
		id    string
		voter bool
	}
	var cands []cand
	seen := map[string]bool{f.a.ID(): true}
	for _, n := range nodes {
		if !seen[n.ID] {
			seen[n.ID] = true
			cands = append(cands, cand{n.ID, n.RaftRole == api.RoleVoter})
		}
	}
	for _, p := range f.a.state.peers() {
		if !seen[p.ID] {
			seen[p.ID] = true
			cands = append(cands, cand{p.ID, false})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].voter && !cands[j].voter })
	best, bestTerm := "", uint64(0)
	for _, c := range cands {
		id, err := peer.Decode(c.id)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		var r leaderReply
		err = f.a.call(cctx, id, rpcLeader, struct{}{}, &r)
		cancel()
		if err == nil && r.LeaderID != "" && r.LeaderID != f.a.ID() && r.Term >= bestTerm {
			best, bestTerm = r.LeaderID, r.Term
			if c.voter {
				break
			}
		}
	}
	return best
}

// follow applies the leader's feed until it fails or Raft takes over.
func (f *feedClient) follow(ctx context.Context, leader string) error {
	id, err := peer.Decode(leader)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := f.a.host.Dial(cctx, id, feedProtocol)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() { <-cctx.Done(); c.Close() }()
	if err := p2p.WriteFrame(c, feedRequest{From: f.a.store().AppliedIndex()}); err != nil {
		return err
	}
	fsm := f.a.cons.FSM()
	for {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		var fr feedFrame
		if err := p2p.ReadFrame(c, &fr, maxFeedFrame); err != nil {
			return err
		}
		if fr.Error != nil {
			return fr.Error
		}
		f.setLeader(fr.LeaderID, fr.Term)
		if fr.Snapshot != nil {
			if err := fsm.RestoreJSON(fr.Snapshot); err != nil {
				return err
			}
		}
		for _, e := range fr.Entries {
			if err := fsm.ApplyFeed(e); err != nil {
				return err
			}
		}
		if f.a.raftActive() {
			return nil
		}
	}
}
