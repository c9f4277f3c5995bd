// Package simnode runs simulated Shoal nodes: light members that speak the
// real node protocol over the real transports — the join handshake with the
// cluster's token, gossip membership (memberlist), the state feed from the
// leader, and status reports through the leader's "propose" RPC — but run
// no workloads: a task assigned to one is reported running at once. Many
// of them fit in one process (one libp2p identity and host, TCP only, and
// one memberlist each, on its own loopback IP), which is what the scale
// benchmark (integration/scale) puts next to real agents.
package simnode

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/node"
	"github.com/shoal-project/shoal/p2p"
)

// Seed is a real member a simulated node joins through and asks who leads.
type Seed struct {
	P2PAddr    string // host:port of its libp2p listener
	GossipAddr string // host:port of its memberlist listener
}

// Config configures one simulated node.
type Config struct {
	Name       string
	IP         string // its own loopback IP, e.g. 127.1.0.7
	P2PPort    int
	GossipPort int
	Seeds      []Seed
	// SeedOffset picks the seed it tries first (joins spread over seeds).
	SeedOffset int
	Token      node.JoinToken
	Labels     map[string]string
	Resources  api.Resources
	// ReportInterval is the batch window of status reports (default 100ms,
	// the executor's).
	ReportInterval time.Duration
	// Gossip are the memberlist timings (zero: gossip.LANTimings, the
	// agent's default).
	Gossip gossip.Timings
	// JoinTimeout bounds the join, retries included (default 2 min).
	JoinTimeout time.Duration
	Logger      *slog.Logger
}

// Stats are counters of one simulated node.
type Stats struct {
	Frames, FrameBytes, Snapshots, Decoded uint64
	FeedErrors, Reports, ReportErrors      uint64
	Assigned, Running                      int
	LastFeedError, LastReportError         string
}

// Node is one running simulated node.
type Node struct {
	cfg    Config
	log    *slog.Logger
	key    crypto.PrivKey
	host   *p2p.Host
	gossip *gossip.Gossip
	track  *tracker
	seeds  []peer.ID
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	leader   peer.ID
	lastFeed string
	lastRep  string

	frames, frameBytes, snapshots, decoded atomic.Uint64
	feedErrors, reports, reportErrors      atomic.Uint64
	killOnce                               sync.Once
}

// Start joins the cluster through the seeds (retrying while they refuse,
// e.g. rate-limited), joins gossip and follows the state feed.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if len(cfg.Seeds) == 0 {
		return nil, errors.New("simnode: no seeds")
	}
	if cfg.ReportInterval <= 0 {
		cfg.ReportInterval = 100 * time.Millisecond
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	h, err := p2p.NewHost(p2p.Config{Key: key, ListenIP: cfg.IP, Port: cfg.P2PPort})
	if err != nil {
		return nil, fmt.Errorf("simnode %s: %w", cfg.Name, err)
	}
	n := &Node{cfg: cfg, log: cfg.Logger.With("sim", cfg.Name), key: key, host: h, track: newTracker(h.ID().String())}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	res, err := n.join(ctx)
	if err != nil {
		n.Kill()
		return nil, err
	}
	seedAddrs := map[string]bool{}
	for _, s := range cfg.Seeds {
		seedAddrs[s.P2PAddr] = true
	}
	for _, m := range res.Members {
		id, err := peer.Decode(m.ID)
		if err != nil || !seedAddrs[m.P2PAddr] {
			continue
		}
		h.Gater().AddMember(id)
		h.SetPeerAddr(id, m.P2PAddr)
		n.seeds = append(n.seeds, id)
	}
	if len(n.seeds) == 0 {
		n.Kill()
		return nil, fmt.Errorf("simnode %s: the join answer names none of the seeds", cfg.Name)
	}
	nt, err := gossip.NewNetTransport(cfg.IP, cfg.GossipPort, nil)
	if err != nil {
		n.Kill()
		return nil, fmt.Errorf("simnode %s: %w", cfg.Name, err)
	}
	g, err := gossip.Start(gossip.Config{
		Name: cfg.Name, BindIP: cfg.IP, Port: cfg.GossipPort, SecretKey: res.GossipKey,
		Transport: newHubTransport(nt, cfg.IP, cfg.GossipPort),
		Label:     "shoal-" + res.ClusterID, Timings: cfg.Gossip, DisableCompression: true, NoReconnect: true,
		Meta: gossip.Meta{NodeID: h.ID().String(), P2PPort: uint16(cfg.P2PPort), ClusterID: res.ClusterID},
	})
	if err != nil {
		n.Kill()
		return nil, fmt.Errorf("simnode %s: %w", cfg.Name, err)
	}
	n.gossip = g
	var gaddrs []string
	for _, s := range cfg.Seeds {
		gaddrs = append(gaddrs, s.GossipAddr)
	}
	if _, err := g.Join(gaddrs); err != nil {
		n.log.Warn("gossip join", "err", err)
	}
	n.wg.Add(3)
	go func() { defer n.wg.Done(); n.drainGossip() }()
	go func() { defer n.wg.Done(); n.feedLoop() }()
	go func() { defer n.wg.Done(); n.reportLoop() }()
	return n, nil
}

// join runs the join handshake, trying the seeds in turn until one admits
// this node or the join timeout passes.
func (n *Node) join(ctx context.Context) (*node.JoinResult, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.JoinTimeout)
	defer cancel()
	ip := n.cfg.IP
	self := api.Node{
		Name:         n.cfg.Name,
		P2PAddr:      net.JoinHostPort(ip, strconv.Itoa(n.cfg.P2PPort)),
		GossipAddr:   net.JoinHostPort(ip, strconv.Itoa(n.cfg.GossipPort)),
		Labels:       n.cfg.Labels,
		Resources:    n.cfg.Resources,
		Runtimes:     []string{"process"},
		Status:       api.NodeReady,
		Availability: api.AvailabilityActive,
		Protocol:     api.ProtocolVersion,
	}
	backoff := 100 * time.Millisecond
	var lastErr error
	for i := n.cfg.SeedOffset; ; i++ {
		seed := n.cfg.Seeds[i%len(n.cfg.Seeds)]
		res, err := node.JoinCluster(ctx, n.host, n.key, seed.P2PAddr, n.cfg.Token, self)
		if err == nil {
			return res, nil
		}
		lastErr = err
		if ctxutil.Sleep(ctx, backoff) != nil {
			return nil, fmt.Errorf("simnode %s: join: %v", n.cfg.Name, lastErr)
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// ID is the node's peer ID.
func (n *Node) ID() string { return n.host.ID().String() }

// Name is the node's name.
func (n *Node) Name() string { return n.cfg.Name }

// Kill stops the node abruptly: its gossip stops answering (no leave) and
// its libp2p host closes every connection, as when its process dies.
func (n *Node) Kill() {
	n.killOnce.Do(func() {
		n.cancel()
		if n.gossip != nil {
			n.gossip.Shutdown()
		}
		n.host.Close()
		n.wg.Wait()
	})
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	a, r := n.track.counts()
	n.mu.Lock()
	defer n.mu.Unlock()
	return Stats{
		Frames: n.frames.Load(), FrameBytes: n.frameBytes.Load(), Snapshots: n.snapshots.Load(), Decoded: n.decoded.Load(),
		FeedErrors: n.feedErrors.Load(), Reports: n.reports.Load(), ReportErrors: n.reportErrors.Load(),
		Assigned: a, Running: r, LastFeedError: n.lastFeed, LastReportError: n.lastRep,
	}
}

// Following reports whether the node follows a leader's feed.
func (n *Node) Following() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader != ""
}

func (n *Node) drainGossip() {
	for range n.gossip.Events() {
	}
}

func (n *Node) setLeader(id peer.ID) {
	n.mu.Lock()
	n.leader = id
	n.mu.Unlock()
}

func (n *Node) leaderID() peer.ID {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader
}

// feedLoop follows the leader's state feed, as a plain member's feed
// client does.
func (n *Node) feedLoop() {
	for n.ctx.Err() == nil {
		leader := n.discoverLeader()
		if leader == "" {
			ctxutil.Sleep(n.ctx, 250*time.Millisecond)
			continue
		}
		if err := n.follow(leader); err != nil && n.ctx.Err() == nil {
			n.feedErrors.Add(1)
			n.mu.Lock()
			n.lastFeed = err.Error()
			n.leader = ""
			n.mu.Unlock()
			ctxutil.Sleep(n.ctx, 100*time.Millisecond)
		}
	}
}

// discoverLeader asks the seeds (the voters) who leads and takes the
// answer with the highest term.
func (n *Node) discoverLeader() peer.ID {
	var best peer.ID
	var bestTerm uint64
	for _, s := range n.seeds {
		ctx, cancel := context.WithTimeout(n.ctx, 500*time.Millisecond)
		var r node.LeaderReply
		err := n.host.Call(ctx, s, node.RPCProtocol, "leader", struct{}{}, &r)
		cancel()
		if err != nil || r.LeaderID == "" || r.Term < bestTerm {
			continue
		}
		if id, err := peer.Decode(r.LeaderID); err == nil {
			best, bestTerm = id, r.Term
		}
	}
	return best
}

// follow reads the leader's feed until it fails.
func (n *Node) follow(leader peer.ID) error {
	ctx, cancel := context.WithCancel(n.ctx)
	defer cancel()
	n.host.Gater().AddMember(leader)
	c, err := n.host.Dial(ctx, leader, node.FeedProtocol2)
	if err != nil {
		return err
	}
	defer c.Close()
	go func() { <-ctx.Done(); c.Close() }()
	if err := p2p.WriteFrame(c, node.FeedRequest{From: n.track.appliedIndex()}); err != nil {
		return err
	}
	r := bufio.NewReaderSize(node.NewFeedReader(c), 64<<10)
	var snaps snapshotAssembler
	var buf []byte // the frame's bytes; frameOf copies what it keeps
	for {
		f, err := node.ReadFeedFrameInto(r, node.MaxFeedFrame, &buf)
		if err != nil {
			return err
		}
		n.frames.Add(1)
		size := 0
		for _, e := range f.Data {
			size += len(e.Data)
		}
		n.frameBytes.Add(uint64(size + len(f.Chunk)))
		fr, err := snaps.frameOf(f)
		if err == nil && fr.Error != nil {
			err = fr.Error
		}
		if err == nil {
			if fr.LeaderID != "" {
				if id, derr := peer.Decode(fr.LeaderID); derr == nil {
					n.setLeader(id)
				}
			}
			if fr.Snapshot != nil {
				n.snapshots.Add(1)
			}
			var d int
			d, err = n.track.frame(fr)
			n.decoded.Add(uint64(d))
		}
		if err != nil {
			return err
		}
	}
}

// reportLoop sends the statuses the node owes in batches, one batch per
// ReportInterval at most, as the executor's report loop does.
func (n *Node) reportLoop() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.track.wake:
		}
		if ctxutil.Sleep(n.ctx, n.cfg.ReportInterval) != nil {
			return
		}
		batch := n.track.take(time.Now().UTC())
		if len(batch) == 0 {
			continue
		}
		err := n.report(batch)
		n.track.settle(batch, err == nil)
		if err != nil {
			n.reportErrors.Add(1)
			n.mu.Lock()
			n.lastRep = err.Error()
			n.mu.Unlock()
			select { // try again
			case n.track.wake <- struct{}{}:
			default:
			}
			ctxutil.Sleep(n.ctx, 200*time.Millisecond)
			continue
		}
		n.reports.Add(1)
	}
}

// report commits one batch through the leader's propose RPC with one
// request ID across retries, as Agent.submit does for the executor.
func (n *Node) report(batch []api.TaskStatusUpdate) error {
	raw, err := json.Marshal(api.ReportTaskStatusPayload{NodeID: n.ID(), Updates: batch})
	if err != nil {
		return err
	}
	return n.Propose(api.Command{Version: api.CommandVersion, Type: api.CmdReportTaskStatus, RequestID: api.NewRequestID(), Payload: raw})
}

// Propose sends cmd through the leader's "propose" RPC as this node, the
// way an agent forwards writes, retrying while no leader is known. Tests
// use it to play a member that proposes what it should not.
func (n *Node) Propose(cmd api.Command) error {
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	backoff := 10 * time.Millisecond
	for {
		leader := n.leaderID()
		if leader == "" {
			leader = n.discoverLeader()
		}
		err := errors.New("no leader known")
		if leader != "" {
			n.host.Gater().AddMember(leader)
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			var reply node.ProposeReply
			err = n.host.Call(cctx, leader, node.RPCProtocol, "propose", cmd, &reply)
			ccancel()
			if err == nil {
				return nil
			}
			var ae *api.Error
			if errors.As(err, &ae) && ae.Code != api.CodeNoLeader && ae.Code != api.CodeUnavailable {
				return err
			}
		}
		if ctxutil.Sleep(ctx, backoff) != nil {
			return fmt.Errorf("%s not confirmed: %v", cmd.Type, err)
		}
		backoff = min(2*backoff, 80*time.Millisecond)
	}
}
