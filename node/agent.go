// Package node is the Shoal agent: it wires identity, libp2p, gossip, Raft
// and the HTTP API into one process, runs the join handshake, forwards
// writes to the leader, and — on the leader — runs the loops that keep the
// cluster's membership and voter set converged.
package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	hraft "github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/node/executor"
	"github.com/shoal-project/shoal/p2p"
	"github.com/shoal-project/shoal/raft"
)

// Agent is one running Shoal node.
type Agent struct {
	cfg         Config
	log         *log.Logger
	out         io.Writer
	key         crypto.PrivKey
	advertiseIP string

	host   *p2p.Host
	cons   *raft.Consensus
	gossip *gossip.Gossip
	state  *localState
	api    *apiServer
	joins  *joinServer
	feed   *feedClient

	executor *executor.Executor
	faults   *faultState
	// containerd is the containerd runtime, with image sharing (nil when
	// the node does not run containers).
	containerd *sharingRuntime
	// runtimeNames are the runtimes this node runs, decided at start.
	runtimeNames []string
	// resources is the capacity this node offers, decided at start.
	resources api.Resources
	// imagesChanged fires when this node's image store changed.
	imagesChanged *signal

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// membershipChanged fires on every gossip event.
	membershipChanged *signal

	closeOnce sync.Once
	mu        sync.Mutex
	// bootstrapToken is printed once after --bootstrap.
	bootstrapToken string
}

// New validates cfg, opens the data dir and starts every part of the node:
// it creates the cluster (--bootstrap), joins one (--join), or rejoins the
// one its data dir belongs to. out receives messages meant for the operator
// (the join command after bootstrap). Errors are one line and name the
// problem.
func New(cfg Config, logger *log.Logger, out io.Writer) (_ *Agent, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := CheckDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	if cfg.GossipPort == 0 {
		if cfg.GossipPort, err = freePort(cfg.Bind); err != nil {
			return nil, err
		}
	}
	a := &Agent{cfg: cfg, log: logger, out: out, membershipChanged: newSignal(), imagesChanged: newSignal()}
	a.ctx, a.cancel = context.WithCancel(context.Background())
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
	case a.state == nil && !cfg.Bootstrap:
		return nil, fmt.Errorf("data dir %s holds no cluster: start with --bootstrap to create one, or --join HOST:PORT --token TOKEN to join one", cfg.DataDir)
	}
	if a.advertiseIP, err = advertiseIP(cfg); err != nil {
		return nil, err
	}
	a.host, err = p2p.NewHost(p2p.Config{Key: a.key, ListenIP: cfg.Bind, Port: cfg.P2PPort, Gater: p2p.NewGater(p2p.GaterOptions{})})
	if err != nil {
		return nil, fmt.Errorf("p2p port %d: %v", cfg.P2PPort, err)
	}
	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return nil, fmt.Errorf("api addr %s: %v", cfg.APIAddr, unwrapOpErr(err))
	}
	a.api = newAPIServer(a, apiLn)
	if err := a.openRaft(); err != nil {
		return nil, err
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
		res, err := joinCluster(a.ctx, a.host, a.key, cfg.Join, tok, self)
		if err != nil {
			return nil, err
		}
		a.state = &localState{ClusterID: res.ClusterID, ClusterDigest: res.Digest[:], GossipKey: res.GossipKey, Peers: res.Members}
		if err := a.state.save(cfg.DataDir); err != nil {
			return nil, err
		}
		a.log.Printf("joined cluster %s through %s", res.ClusterID, cfg.Join)
	}
	a.trustPeers(a.state.Peers)
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
	transport := hraft.NewNetworkTransportWithConfig(&hraft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		Timeout: 5 * time.Second,
		Logger:  hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: a.log.Writer(), Level: hclog.Warn}),
	})
	timings := raft.FastTimings()
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
		Logger:    hclog.New(&hclog.LoggerOptions{Name: "raft", Output: a.log.Writer(), Level: hclog.Warn}),
	})
	if err != nil {
		return fmt.Errorf("raft: %v", err)
	}
	a.cons.TrackLeader()
	return nil
}

// bootstrap creates a new cluster with this node as its only voter.
func (a *Agent) bootstrap(self api.Node) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	idBytes := make([]byte, 12)
	rand.Read(idBytes)
	gossipKey := make([]byte, 32)
	rand.Read(gossipKey)
	cluster := api.Cluster{ID: hex.EncodeToString(idBytes), SigningKey: priv, TokenNonce: nonce(), GossipKey: gossipKey}
	digest := ClusterDigest(pub)
	a.state = &localState{ClusterID: cluster.ID, ClusterDigest: digest[:], GossipKey: gossipKey,
		Peers: []peerRecord{{ID: self.ID, Name: self.Name, P2PAddr: self.P2PAddr, GossipAddr: self.GossipAddr}}}
	if err := a.cons.BootstrapSelf(); err != nil {
		return fmt.Errorf("raft bootstrap: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !a.cons.IsLeader() {
		if time.Now().After(deadline) {
			return errors.New("bootstrap: this node did not become leader of its own cluster within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	if _, err := a.submitPayload(ctx, api.CmdBootstrap, "", api.BootstrapPayload{Cluster: cluster, Node: self}); err != nil {
		return fmt.Errorf("bootstrap: %v", err)
	}
	if err := a.state.save(a.cfg.DataDir); err != nil {
		return err
	}
	c, _ := a.store().Cluster()
	a.bootstrapToken = tokenFor(c).String()
	fmt.Fprintf(a.out, "Cluster %s created; this node (%s) is its leader.\nTo add a node, run on another host:\n\n    shoal agent --join %s --token %s\n\n",
		cluster.ID, self.Name, net.JoinHostPort(a.advertiseIP, portOf(a.host.Addr())), a.bootstrapToken)
	return nil
}

// selfNode describes this node for registration.
func (a *Agent) selfNode() api.Node {
	labels := map[string]string{}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	gport := a.cfg.GossipPort
	return api.Node{
		ID:           a.host.ID().String(),
		Name:         a.cfg.Name,
		P2PAddr:      net.JoinHostPort(a.advertiseIP, portOf(a.host.Addr())),
		GossipAddr:   net.JoinHostPort(a.advertiseIP, fmt.Sprint(gport)),
		APIAddr:      a.api.addr(),
		Labels:       labels,
		Resources:    a.resources,
		Runtimes:     append([]string(nil), a.runtimeNames...),
		Status:       api.NodeReady,
		Availability: api.AvailabilityActive,
	}
}

// startGossip joins the cluster's memberlist.
func (a *Agent) startGossip() error {
	var transport memberlist.NodeAwareTransport
	if a.cfg.FaultInjection {
		nt, err := gossip.NewNetTransport(a.cfg.Bind, a.cfg.GossipPort, nil)
		if err != nil {
			return fmt.Errorf("gossip port %d: %v", a.cfg.GossipPort, err)
		}
		ft := gossip.NewFaultTransport(nt)
		a.faults = &faultState{transport: ft, blocked: map[string]string{}}
		transport = ft
	}
	g, err := gossip.Start(gossip.Config{
		Transport:   transport,
		Name:        a.cfg.Name,
		BindIP:      a.cfg.Bind,
		Port:        a.cfg.GossipPort,
		AdvertiseIP: a.advertiseIP,
		SecretKey:   a.state.GossipKey,
		Label:       "shoal-" + a.state.ClusterID,
		Meta:        gossip.Meta{NodeID: a.host.ID().String(), P2PPort: uint16(mustAtoi(portOf(a.host.Addr()))), APIAddr: a.api.addr(), ClusterID: a.state.ClusterID},
		Timings:     a.gossipTimings(),
		Logger:      log.New(io.Discard, "", 0),
	})
	if err != nil {
		return fmt.Errorf("gossip port %d: %v", a.cfg.GossipPort, err)
	}
	a.gossip = g
	if a.cfg.GossipPort == 0 {
		a.cfg.GossipPort = mustAtoi(portOf(g.Addr()))
	}
	var seeds []string
	for _, p := range a.state.Peers {
		if p.ID != a.host.ID().String() && p.GossipAddr != "" {
			seeds = append(seeds, p.GossipAddr)
		}
	}
	if len(seeds) > 0 {
		if _, err := g.Join(seeds); err != nil {
			a.log.Printf("gossip: no peer answered yet (%v); will keep trying", err)
		}
	}
	return nil
}

func (a *Agent) gossipTimings() gossip.Timings {
	t := gossip.LANTimings()
	if d := a.cfg.Gossip.ProbeInterval; d > 0 {
		t.ProbeInterval = time.Duration(d)
	}
	if d := a.cfg.Gossip.ProbeTimeout; d > 0 {
		t.ProbeTimeout = time.Duration(d)
	}
	if m := a.cfg.Gossip.SuspicionMult; m > 0 {
		t.SuspicionMult = m
	}
	return t
}

// store is the local replica of the cluster state.
func (a *Agent) store() *raft.Store { return a.cons.Store() }

// Token is the join token printed at bootstrap ("" otherwise).
func (a *Agent) Token() string { return a.bootstrapToken }

// APIAddr is where the HTTP API listens.
func (a *Agent) APIAddr() string { return a.api.addr() }

// ID is this node's ID (its libp2p peer ID).
func (a *Agent) ID() string { return a.host.ID().String() }

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

func advertiseIP(cfg Config) (string, error) {
	if cfg.Advertise != "" {
		return cfg.Advertise, nil
	}
	ip := net.ParseIP(cfg.Bind)
	if !ip.IsUnspecified() {
		return cfg.Bind, nil
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, ad := range addrs {
			if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String(), nil
			}
		}
	}
	return "127.0.0.1", nil
}

func portOf(hostport string) string {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "0"
	}
	return p
}

func mustAtoi(s string) int {
	var n int
	fmt.Sscanf(s, "%d", &n)
	return n
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

func unwrapOpErr(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Err
		}
		return oe.Err
	}
	return err
}

// freePort finds a port free for both TCP and UDP on ip.
func freePort(ip string) (int, error) {
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port for gossip")
}
