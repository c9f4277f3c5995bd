package p2p

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	msmux "github.com/multiformats/go-multistream"
)

// Config configures a Host.
type Config struct {
	// Key is the node's identity; its peer ID is the node ID.
	Key crypto.PrivKey
	// ListenIP is the IP address to listen on, e.g. "127.0.0.1" or "0.0.0.0".
	ListenIP string
	// Port is the TCP port; 0 picks any free port.
	Port int
	// Gater admits peers; nil means a new Gater with default options.
	Gater *Gater

	// connLow and connHigh are the connection manager's watermarks (zero:
	// 256 and 512); connGrace how long a new connection is never trimmed
	// (zero: a minute). Tests lower them.
	connLow, connHigh int
	connGrace         time.Duration
}

// Host is a libp2p host restricted to TCP, Noise and yamux, gated by an
// allow-list Gater.
type Host struct {
	h     host.Host
	gater *Gater
	cm    *connmgr.BasicConnMgr
	addr  string
	// addrs is the address SetPeerAddr last gave each peer.
	addrMu sync.Mutex
	addrs  map[peer.ID]string
	cancel context.CancelFunc
	ctx    context.Context
	wg     sync.WaitGroup
	once   sync.Once
}

// NewHost starts a Host listening on cfg.ListenIP:cfg.Port.
func NewHost(cfg Config) (*Host, error) {
	if cfg.Key == nil {
		return nil, errors.New("p2p host: no identity key")
	}
	listen, err := tcpMultiaddr(cfg.ListenIP, cfg.Port)
	if err != nil {
		return nil, fmt.Errorf("p2p host: %w", err)
	}
	g := cfg.Gater
	if g == nil {
		g = NewGater(GaterOptions{})
	}
	rm, err := newResourceManager()
	if err != nil {
		return nil, fmt.Errorf("p2p host: resource manager: %w", err)
	}
	low, high, grace := cfg.connLow, cfg.connHigh, cfg.connGrace
	if low == 0 || high == 0 {
		low, high = 256, 512
	}
	if grace == 0 {
		grace = time.Minute
	}
	cm, err := connmgr.NewConnManager(low, high, connmgr.WithGracePeriod(grace))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("p2p host: connection manager: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(cfg.Key),
		libp2p.ListenAddrs(listen),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.DisableRelay(),
		libp2p.Ping(false),
		libp2p.DisableMetrics(),
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.ConnectionGater(g),
	)
	if err != nil {
		rm.Close()
		cm.Close()
		return nil, fmt.Errorf("p2p host: listen on %s: %w", net.JoinHostPort(cfg.ListenIP, strconv.Itoa(cfg.Port)), err)
	}
	addr, err := listenAddr(h)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("p2p host: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.adopt(cm)
	hh := &Host{h: h, gater: g, cm: cm, addr: addr, ctx: ctx, cancel: cancel}
	hh.wg.Add(1)
	go hh.sweep()
	return hh, nil
}

// tcpMultiaddr turns ip and port into /ip4|ip6/<ip>/tcp/<port>.
func tcpMultiaddr(ipStr string, port int) (ma.Multiaddr, error) {
	ip := net.ParseIP(ipStr)
	if ip == nil {
		return nil, fmt.Errorf("listen IP %q is not an IP address", ipStr)
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("port %d out of range 0-65535", port)
	}
	return manet.FromNetAddr(&net.TCPAddr{IP: ip, Port: port})
}

// listenAddr returns the "ip:port" h listens on.
func listenAddr(h host.Host) (string, error) {
	for _, m := range h.Network().ListenAddresses() {
		if a, err := manet.ToNetAddr(m); err == nil {
			if tcpAddr, ok := a.(*net.TCPAddr); ok {
				return tcpAddr.String(), nil
			}
		}
	}
	return "", errors.New("no TCP listen address")
}

// sweepInterval is how often the sweeper looks for peers to drop.
func (h *Host) sweepInterval() time.Duration {
	return min(max(h.gater.ttl/2, 10*time.Millisecond), time.Second)
}

// sweep closes connections to peers the Gater no longer admits: expired
// pending peers, removed members, blocked and denied peers.
func (h *Host) sweep() {
	defer h.wg.Done()
	t := time.NewTicker(h.sweepInterval())
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		for _, p := range h.h.Network().Peers() {
			if h.gater.shouldDrop(p) {
				_ = h.h.Network().ClosePeer(p)
			}
		}
	}
}

// ID returns the host's peer ID, which is the node ID.
func (h *Host) ID() peer.ID { return h.h.ID() }

// Addr returns the "ip:port" actually listened on.
func (h *Host) Addr() string { return h.addr }

// Gater returns the host's connection gater.
func (h *Host) Gater() *Gater { return h.gater }

// LibP2P returns the underlying libp2p host.
func (h *Host) LibP2P() host.Host { return h.h }

// SetPeerAddr records hostport as the only address of id, permanently.
func (h *Host) SetPeerAddr(id peer.ID, hostport string) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("set address of peer %q: %w", id, err)
	}
	h.addrMu.Lock()
	defer h.addrMu.Unlock()
	if h.addrs[id] == hostport {
		return nil // unchanged: membership passes set every member's address
	}
	m, err := hostportMultiaddr(hostport)
	if err != nil {
		return fmt.Errorf("set address of peer %s: %w", id, err)
	}
	ps := h.h.Peerstore()
	ps.ClearAddrs(id)
	ps.AddAddr(id, m, peerstore.PermanentAddrTTL)
	if h.addrs == nil {
		h.addrs = map[peer.ID]string{}
	}
	h.addrs[id] = hostport
	return nil
}

// hostportMultiaddr turns "ip:port" or "name:port" into a TCP multiaddr.
func hostportMultiaddr(hostport string) (ma.Multiaddr, error) {
	hostStr, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", hostport, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("address %q: port must be 1-65535", hostport)
	}
	if ip := net.ParseIP(hostStr); ip != nil {
		return manet.FromNetAddr(&net.TCPAddr{IP: ip, Port: port})
	}
	if hostStr == "" {
		return nil, fmt.Errorf("address %q: missing host", hostport)
	}
	return ma.NewMultiaddr("/dns/" + hostStr + "/tcp/" + portStr)
}

// Protect keeps the connection manager from trimming connections to id.
// Members are protected already (tag "member").
func (h *Host) Protect(id peer.ID, tag string) { h.cm.Protect(id, tag) }

// IsProtected reports whether connections to id are kept under tag.
func (h *Host) IsProtected(id peer.ID, tag string) bool { return h.cm.IsProtected(id, tag) }

// Dial opens a stream to id speaking proto and returns it as a net.Conn. It
// always forces a direct dial, so a restarted peer is not subject to dial
// backoff.
func (h *Host) Dial(ctx context.Context, id peer.ID, proto protocol.ID) (net.Conn, error) {
	if id == h.ID() {
		return nil, fmt.Errorf("dial %s: cannot dial self", id)
	}
	if h.gater.IsBlocked(id) {
		return nil, fmt.Errorf("dial %s %s: peer is blocked", id, proto)
	}
	if h.gater.IsDenied(id) {
		return nil, fmt.Errorf("dial %s %s: peer is denied (removed from the cluster)", id, proto)
	}
	ctx = network.WithForceDirectDial(ctx, "shoal")
	s, err := h.h.NewStream(ctx, id, proto)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("dial %s %s: %w", id, proto, err)
	}
	return &streamConn{Stream: s}, nil
}

// Listen accepts streams for proto as net.Conns. With membersOnly, streams
// from peers that are not members are reset. Streams from blocked and
// denied peers are always reset.
func (h *Host) Listen(proto protocol.ID, membersOnly bool) (net.Listener, error) {
	if proto == "" {
		return nil, errors.New("listen: empty protocol ID")
	}
	l := &streamListener{h: h, proto: proto, ch: make(chan network.Stream), done: make(chan struct{})}
	h.h.SetStreamHandler(proto, func(s network.Stream) {
		if !h.streamAllowed(s.Conn().RemotePeer(), membersOnly) {
			_ = s.Reset()
			return
		}
		select {
		case l.ch <- s:
		case <-l.done:
			_ = s.Reset()
		}
	})
	return l, nil
}

// streamAllowed reports whether a stream from p may be served.
func (h *Host) streamAllowed(p peer.ID, membersOnly bool) bool {
	if membersOnly {
		return h.gater.admitted(p)
	}
	return !h.gater.IsBlocked(p) && !h.gater.IsDenied(p)
}

// Disconnect closes all connections to id.
func (h *Host) Disconnect(id peer.ID) error {
	if err := h.h.Network().ClosePeer(id); err != nil {
		return fmt.Errorf("disconnect %s: %w", id, err)
	}
	return nil
}

// Close stops the host and closes all its connections.
func (h *Host) Close() error {
	var err error
	h.once.Do(func() {
		h.cancel()
		h.wg.Wait()
		err = h.h.Close()
	})
	return err
}

// IsNotSupported reports whether a Dial failed because the peer does not
// speak the protocol (an older build), as opposed to being unreachable.
func IsNotSupported(err error) bool {
	var ns msmux.ErrNotSupported[protocol.ID]
	return errors.As(err, &ns)
}

// OnDisconnect calls f with a peer's ID when this host's last connection
// to it closes (a peer that went away, or was cut off). f runs on
// libp2p's notification path: it must be quick and must not block.
func (h *Host) OnDisconnect(f func(peer.ID)) {
	h.h.Network().Notify(&network.NotifyBundle{DisconnectedF: func(n network.Network, c network.Conn) {
		if id := c.RemotePeer(); n.Connectedness(id) != network.Connected {
			f(id)
		}
	}})
}

// Connected reports whether this host has a connection to id now.
func (h *Host) Connected(id peer.ID) bool {
	return h.h.Network().Connectedness(id) == network.Connected
}
