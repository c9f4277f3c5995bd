package node

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/p2p"
	"github.com/shoal-project/shoal/state"
)

// feedNode is what the feed client needs from its node: who it is, whether
// Raft currently keeps its replica, the members it may ask for the leader,
// and the node RPC and stream dialer.
type feedNode interface {
	ID() string
	// raftActive is true while Raft keeps the replica current.
	raftActive() bool
	// knownPeers lists the members other than this node: voters first,
	// then the rest of the node table, then gossip-only peers.
	knownPeers() []knownPeer
	call(ctx context.Context, to peer.ID, m rpcMethod, req, resp any) error
	dial(ctx context.Context, to peer.ID, proto protocol.ID) (net.Conn, error)
}

// knownPeer is a member the feed client may ask for the leader.
type knownPeer struct {
	ID    string
	Voter bool
}

// feedClient follows the leader's feed while this node is not a Raft
// server, applying its entries to fsm.
type feedClient struct {
	node feedNode
	fsm  *state.FSM
	log  *slog.Logger
	// retry is the pause before looking for a leader again.
	retry time.Duration

	mu       sync.Mutex
	leaderID string
	termSeen uint64
}

func newFeedClient(node feedNode, fsm *state.FSM, log *slog.Logger) *feedClient {
	return &feedClient{node: node, fsm: fsm, log: log, retry: 250 * time.Millisecond}
}

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
		if f.node.raftActive() {
			f.setLeader("", 0)
			ctxutil.Sleep(ctx, f.retry)
			continue
		}
		leader := f.discoverLeader(ctx)
		if leader == "" {
			ctxutil.Sleep(ctx, f.retry)
			continue
		}
		if err := f.follow(ctx, leader); err != nil && ctx.Err() == nil {
			f.log.Warn("state feed interrupted", "leader", api.ShortID(leader), "err", err)
			f.setLeader("", 0)
			ctxutil.Sleep(ctx, f.retry/2)
		}
	}
}

// discoverLeader asks known peers who leads, in the order knownPeers gives
// them, and takes the answer with the highest term; the first voter that
// names a leader ends the search.
func (f *feedClient) discoverLeader(ctx context.Context) string {
	best, bestTerm := "", uint64(0)
	for _, c := range f.node.knownPeers() {
		id, err := peer.Decode(c.ID)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		var r leaderReply
		err = f.node.call(cctx, id, rpcLeader, struct{}{}, &r)
		cancel()
		if err == nil && r.LeaderID != "" && r.LeaderID != f.node.ID() && r.Term >= bestTerm {
			best, bestTerm = r.LeaderID, r.Term
			if c.Voter {
				break
			}
		}
	}
	return best
}

// follow applies the leader's feed until it fails or Raft takes over. It
// speaks feed/2 and falls back to feed/1 with a leader of an older build.
func (f *feedClient) follow(ctx context.Context, leader string) error {
	id, err := peer.Decode(leader)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c, err := f.node.dial(cctx, id, feedProtocol2)
	if p2p.IsNotSupported(err) {
		return f.follow1(cctx, id)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	go func() { <-cctx.Done(); c.Close() }()
	if err := p2p.WriteFrame(c, feedRequest{From: f.fsm.Store().AppliedIndex()}); err != nil {
		return err
	}
	r := bufio.NewReaderSize(newIdleReader(c, feedIdleTimeout), 64<<10)
	var snap []byte
	var snapIndex uint64
	for {
		fr, err := readFeedFrame(r, maxFeedFrame)
		if err != nil {
			return err
		}
		if fr.Error != nil {
			return fr.Error
		}
		f.setLeader(fr.LeaderID, fr.Term)
		if err := unpackFrame(fr); err != nil {
			return err
		}
		if s := fr.Snapshot; s != nil {
			if s.Offset == 0 {
				snap, snapIndex = make([]byte, 0, s.Total), s.Index
			}
			if s.Index != snapIndex || s.Offset != int64(len(snap)) {
				return fmt.Errorf("state feed: snapshot chunk at %d of index %d does not follow %d bytes of index %d", s.Offset, s.Index, len(snap), snapIndex)
			}
			snap = append(snap, fr.Chunk...)
			if int64(len(snap)) == s.Total {
				img, err := unpackImage(fr.Codec, snap)
				if err != nil {
					return err
				}
				if err := f.fsm.RestoreJSON(img); err != nil {
					return err
				}
				snap = nil
			}
		}
		for _, e := range fr.Data {
			if err := f.fsm.ApplyFeed(e); err != nil {
				return err
			}
		}
		if f.node.raftActive() {
			return nil
		}
	}
}

// follow1 applies a feed/1 stream (JSON frames) from a leader that does
// not speak feed/2.
func (f *feedClient) follow1(ctx context.Context, id peer.ID) error {
	c, err := f.node.dial(ctx, id, feedProtocol)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() { <-ctx.Done(); c.Close() }()
	if err := p2p.WriteFrame(c, feedRequest{From: f.fsm.Store().AppliedIndex()}); err != nil {
		return err
	}
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
			if err := f.fsm.RestoreJSON(fr.Snapshot); err != nil {
				return err
			}
		}
		for _, e := range fr.Entries {
			if err := f.fsm.ApplyFeed(e); err != nil {
				return err
			}
		}
		if f.node.raftActive() {
			return nil
		}
	}
}

// raftActive is true while this node is in the Raft configuration and
// hears from a leader, so Raft itself keeps its replica current.
func (a *Agent) raftActive() bool {
	servers, err := a.cons.Servers()
	return err == nil && a.isRaftServer(servers) && a.cons.Leader() != ""
}

// knownPeers lists the other members to ask for the leader: voters of the
// node table first, then its other nodes, then gossip-only peers.
func (a *Agent) knownPeers() []knownPeer {
	var cands []knownPeer
	seen := map[string]bool{a.ID(): true}
	for _, n := range a.store().Nodes() {
		if !seen[n.ID] {
			seen[n.ID] = true
			cands = append(cands, knownPeer{n.ID, n.RaftRole == api.RoleVoter})
		}
	}
	for _, p := range a.state.peers() {
		if !seen[p.ID] {
			seen[p.ID] = true
			cands = append(cands, knownPeer{p.ID, false})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Voter && !cands[j].Voter })
	return cands
}

// dial opens a stream of proto to peer to.
func (a *Agent) dial(ctx context.Context, to peer.ID, proto protocol.ID) (net.Conn, error) {
	return a.host.Dial(ctx, to, proto)
}
