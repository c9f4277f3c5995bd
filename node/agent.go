// Package node is the Shoal agent: it wires identity, libp2p, gossip, Raft
// and the HTTP API into one process, runs the join handshake, forwards
// writes to the leader, and — on the leader — runs the loops that keep the
// cluster's membership and voter set converged.
package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/node/executor"
	"github.com/shoal-project/shoal/p2p"
	"github.com/shoal-project/shoal/raft"
	"github.com/shoal-project/shoal/state"
)

// Agent is one running Shoal node.
type Agent struct {
	cfg         Config
	log         *slog.Logger
	out         io.Writer
	key         crypto.PrivKey
	advertiseIP string
	// taskMTU is the MTU new tasks' interfaces get (0: the bridge
	// plugin's default), set by routesLoop when VXLAN is in use.
	taskMTU atomic.Int64

	host *p2p.Host
	// id is host's peer ID as a string (ID() is called per frame and per
	// member; encoding it costs a base58 pass each time).
	id   string
	cons *raft.Consensus
	// contacts records when each Raft server last answered this node's
	// AppendEntries (meaningful while it leads).
	contacts *raft.ContactTransport
	gossip   *gossip.Gossip
	state    *localState
	api      *apiServer
	joins    *joinServer
	feed     *feedClient
	// feedSnap is the last snapshot image the state feed sent;
	// feedPacked the compressed entries it sent lately.
	feedSnap   snapshotCache
	feedPacked *packedEntries
	// feedFollowers counts the state feeds this node serves.
	feedFollowers atomic.Int64
	// feedWake wakes the feeds of members whose own tasks changed.
	feedWake feedWaker

	executor *executor.Executor
	faults   *faultState
	// secretMu serialises the leader's secret creations (see
	// proposeAsLeader).
	secretMu sync.Mutex
	// dnsAddr is the IP this node's DNS server answers on (a string; unset
	// until it serves: dnsLoop).
	dnsAddr atomic.Value
	// containerd is the containerd runtime, with image sharing (nil when
	// the node does not run containers).
	containerd *sharingRuntime
	// runtimeNames are the runtimes this node runs, decided at start.
	runtimeNames []string
	// resources is the capacity this node offers, decided at start.
	resources api.Resources
	// reports gathers the task reports this node commits as leader.
	reports *reportBatcher
	// imagesChanged fires when this node's image store changed.
	imagesChanged *signal

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// membershipChanged fires on every gossip event.
	membershipChanged *signal
	// gone confirms that members whose connection closed are gone, and
	// lost says whose closed (gone.go).
	gone *goneProber
	lost lostConns

	// voterMu serialises changes to the Raft configuration on the leader:
	// the voter loop's plans, and the eviction that precedes a removal.
	voterMu sync.Mutex
	// refusals paces the log of connections refused to denied peers;
	// denySeen is the newest deny-list entry cutOffDenied has seen;
	// removedSelf is set once this node saw itself removed.
	refusals    *refusalLog
	denySeen    atomic.Uint64
	removedSelf atomic.Bool

	// stopping is set once the agent begins a graceful stop.
	stopping atomic.Bool
	// serving is set once every service of the node has started.
	serving atomic.Bool

	closeOnce sync.Once
	mu        sync.Mutex
	// metrics is this agent's Prometheus registry (GET /metrics).
	metrics *metrics
	// bootstrapToken is the join token at bootstrap, for in-process tests
	// (never printed: the agent's output goes to logs).
	bootstrapToken string
}

// New validates cfg, opens the data dir and starts every part of the node:
// it creates the cluster (--bootstrap), joins one (--join), or rejoins the
// one its data dir belongs to. out receives messages meant for the operator
// (the join command after bootstrap); logger receives the agent's records,
// and those of hashicorp/raft and memberlist (nil discards them). Errors
// are one line and name the problem.
func New(cfg Config, logger *slog.Logger, out io.Writer) (_ *Agent, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := CheckDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.GossipPort == 0 {
		if cfg.GossipPort, err = freePort(cfg.Bind); err != nil {
			return nil, err
		}
	}
	a := &Agent{cfg: cfg, log: logger, out: out, membershipChanged: newSignal(), imagesChanged: newSignal()}
	a.gone = newGoneProber(a.membershipChanged, logger)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.metrics = newMetrics()
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.key, err = p2p.LoadOrCreateIdentity(cfg.DataDir); err != nil {
		return nil, err
	}
	if a.state, err = loadLocalState(cfg.DataDir); err != nil {
		return nil, err
	}
	var tok JoinToken
	switch {
	case a.state != nil && cfg.Bootstrap:
		return nil, fmt.Errorf("data dir %s already holds cluster %s; start without --bootstrap to rejoin it", cfg.DataDir, a.state.ClusterID)
	case a.state != nil && cfg.Join != "":
		if tok, err = ParseJoinToken(cfg.Token); err != nil {
			return nil, err
		}
		if !equalBytes(tok.Digest[:], a.state.ClusterDigest) {
			return nil, fmt.Errorf("data dir %s belongs to cluster %s, and the token is for another cluster; use an empty data dir to join it", cfg.DataDir, a.state.ClusterID)
		}
	case a.state == nil && cfg.Join != "":
		if tok, err = ParseJoinToken(cfg.Token); err != nil {
			return nil, err
		}
	case a.state == nil && cfg.ForceNewCluster:
		return nil, fmt.Errorf("data dir %s holds no cluster: --force-new-cluster needs the data dir of a surviving voter", cfg.DataDir)
	case a.state == nil && !cfg.Bootstrap:
		return nil, fmt.Errorf("data dir %s holds no cluster: start with --bootstrap to create one, or --join HOST:PORT --token TOKEN to join one", cfg.DataDir)
	}
	if a.advertiseIP, err = advertiseIP(cfg); err != nil {
		return nil, err
	}
	a.host, err = p2p.NewHost(p2p.Config{Key: a.key, ListenIP: cfg.Bind, Port: cfg.P2PPort, Gater: p2p.NewGater(p2p.GaterOptions{})})
	if err == nil {
		a.id = a.host.ID().String()
	}
	if err != nil {
		return nil, fmt.Errorf("p2p port %d: %v", cfg.P2PPort, err)
	}
	if a.api, err = a.listenAPI(); err != nil {
		return nil, err
	}
	if err := a.openRaft(); err != nil {
		return nil, err
	}
	a.enforceDenyList()
	// RPC is served from the start (only "status" until the node is up),
	// so a leader can probe a joiner during its handshake.
	if err := a.host.HandleRPC(rpcProtocol, true, a.handleRPC); err != nil {
		return nil, fmt.Errorf("rpc: %v", err)
	}
	a.runtimeNames = a.enabledRuntimes()
	a.resources = hostResources(a.cfg)
	self := a.selfNode()
	switch {
	case cfg.Bootstrap:
		if err := a.bootstrap(self); err != nil {
			return nil, err
		}
	case a.state == nil:
		res, err := a.joinWithRetry(cfg.Join, tok, self)
		if err != nil {
			return nil, err
		}
		a.state = &localState{ClusterID: res.ClusterID, ClusterDigest: res.Digest[:], GossipKey: res.GossipKey, Peers: res.Members}
		if err := a.state.save(cfg.DataDir); err != nil {
			return nil, err
		}
		a.log.Info("joined cluster "+res.ClusterID, "cluster", res.ClusterID, "through", cfg.Join, "node", cfg.Name)
	}
	if cfg.ForceNewCluster {
		a.announceForcedCluster()
	}
	a.trustPeers(a.state.peers())
	if err := a.startGossip(); err != nil {
		return nil, err
	}
	if err := a.startServices(); err != nil {
		return nil, err
	}
	return a, nil
}

// openRaft starts this node's Raft instance. Every node runs one; only the
// nodes the leader adds to the configuration take part.
func (a *Agent) openRaft() error {
	stream, err := p2p.NewRaftStreamLayer(a.host)
	if err != nil {
		return err
	}
	transport := raft.NewContactTransport(hraft.NewNetworkTransportWithConfig(&hraft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		// No pipelined replication: with it, a failed pipelined append can
		// leave hashicorp/raft's sender and response decoder waiting on
		// each other forever (found by the chaos test's real partitions: the
		// agent then never finishes shutting down, and a follower can stop
		// receiving entries).
		MaxRPCsInFlight: 1,
		Timeout:         5 * time.Second,
		Logger:          raft.NewHCLogger(a.log, a.libraryLevel()).Named("raft-net"),
	}))
	a.contacts = transport
	if a.metrics != nil {
		transport.Observe(a.metrics.AppendSent)
	}
	var timings raft.Timings // raft.Open fills what the config leaves zero from raft.FastTimings
	if d := a.cfg.Raft.HeartbeatTimeout; d > 0 {
		timings.HeartbeatTimeout = time.Duration(d)
	}
	if d := a.cfg.Raft.ElectionTimeout; d > 0 {
		timings.ElectionTimeout = time.Duration(d)
	}
	if d := a.cfg.Raft.LeaderLeaseTimeout; d > 0 {
		timings.LeaderLeaseTimeout = time.Duration(d)
	}
	a.cons, err = raft.Open(raft.Config{
		DataDir:   a.cfg.DataDir,
		LocalID:   a.host.ID().String(),
		Transport: transport,
		Timings:   timings,
		Logger:    raft.NewHCLogger(a.log, a.libraryLevel()).Named("raft"),
		Halt:      a.haltOnUnknownCommand,
		Observer:  a.metrics,

		ForceNewCluster: a.cfg.ForceNewCluster,
	})
	if err != nil {
		return fmt.Errorf("raft: %v", err)
	}
	a.cons.TrackLeader()
	return nil
}

// store is the local replica of the cluster state.
func (a *Agent) store() *state.Store { return a.cons.Store() }

// Token is the join token printed at bootstrap ("" otherwise).
func (a *Agent) Token() string { return a.bootstrapToken }

// APIAddr is where the HTTPS API listens ("" without --api-addr).
func (a *Agent) APIAddr() string { return a.api.addr() }

// Endpoints describes where the API is served, for the start-up log.
func (a *Agent) Endpoints() string {
	var eps []string
	if a.cfg.APISocket != "" {
		eps = append(eps, "unix://"+a.cfg.APISocket)
	}
	if addr := a.api.addr(); addr != "" {
		eps = append(eps, "https://"+addr)
	}
	return strings.Join(eps, " and ")
}

// ID is this node's ID (its libp2p peer ID).
func (a *Agent) ID() string {
	if a.id != "" {
		return a.id
	}
	return a.host.ID().String()
}

// trustPeers lets the gater admit the peers the data dir or the join
// answer names, and records their addresses, until the replicated state
// takes over.
func (a *Agent) trustPeers(peers []peerRecord) {
	for _, p := range peers {
		id, err := peer.Decode(p.ID)
		if err != nil {
			continue
		}
		a.host.Gater().AddMember(id)
		if p.P2PAddr != "" && id != a.host.ID() {
			a.host.SetPeerAddr(id, p.P2PAddr)
		}
	}
}
