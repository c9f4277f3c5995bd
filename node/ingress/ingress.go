// Package ingress is a node's userspace proxy for services' ingress
// published ports: the node accepts on each port it is given on its own
// address and forwards every new TCP connection, or every new UDP client
// session, to a live backend of the service anywhere in the cluster,
// round robin — or, under a held update's traffic split, drawn at random
// by the backends' shares (endpoints.Port.Shares). The agent gives it the ports the kernel does not serve
// (node/vip DNATs TCP ports without PROXY protocol): those with PROXY
// protocol, whose TCP connections it starts with a v2 header carrying
// the client's address (a backend on another node would otherwise see
// the node's, masqueraded), and UDP ports, whose sessions end when their
// backend leaves (conntrack would keep a UDP flow on a dead backend
// until it idles out). A backend that refuses the connection is
// skipped: the connection goes to the next one. Backend sets are swapped
// atomically by Update; TCP connections already open stay on their
// backend, UDP sessions to a backend that left end.
package ingress

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoal-project/shoal/node/endpoints"
)

// Config is what a Proxy needs.
type Config struct {
	// Addr is the address the node accepts on (its bind address; the
	// unspecified address accepts on all).
	Addr netip.Addr
	// DialTimeout bounds a connection attempt to one backend (default
	// 1 s); UDPIdle ends a UDP client's session after that long without
	// a datagram either way (default 30 s).
	DialTimeout time.Duration
	UDPIdle     time.Duration
	// Accepted, if set, is called for every TCP connection and every UDP
	// session the proxy forwards (metrics).
	Accepted func(service, protocol string)
	Logger   *slog.Logger
	// Rand, if set, draws a number in [0, n) for a weighted port's choice
	// of backend (tests seed it); default math/rand/v2's IntN.
	Rand func(n int) int
}

// Proxy serves the ingress ports of the services it is given.
type Proxy struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	ports map[key]*frontend
}

// key is one published port.
type key struct {
	protocol string
	port     uint16
}

// frontend is one published port: its listener and what it forwards to.
type frontend struct {
	key
	target atomic.Pointer[target]
	next   atomic.Uint64 // round robin
	rand   func(n int) int
	close  func()
	// updated, if set, is told of every new target (UDP ends the
	// sessions of backends that left).
	updated func(*target)
}

// target is where a frontend's new connections go.
type target struct {
	service       string
	proxyProtocol bool
	backends      []netip.AddrPort
	// shares, for a port with a traffic split, are the backends' shares
	// of new connections out of total (endpoints.Port.Shares); nil for
	// round robin.
	shares []int
	total  int
}

// New returns a proxy that serves no port yet.
func New(cfg Config) *Proxy {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = time.Second
	}
	if cfg.UDPIdle <= 0 {
		cfg.UDPIdle = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Accepted == nil {
		cfg.Accepted = func(string, string) {}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.IntN
	}
	return &Proxy{cfg: cfg, log: cfg.Logger, ports: map[key]*frontend{}}
}

// Update makes the proxy accept on exactly svcs' ingress ports, each
// forwarding to its port's backends from now on. A port it cannot listen
// on is logged and tried again on the next Update; the error joins them.
func (p *Proxy) Update(svcs []endpoints.Service) error {
	want := map[key]*target{}
	for _, s := range svcs {
		for _, port := range s.Ports {
			if !port.Ingress() || (port.Protocol != "tcp" && port.Protocol != "udp") {
				continue
			}
			t := &target{service: s.Name, proxyProtocol: port.ProxyProtocol && port.Protocol == "tcp"}
			for _, b := range port.Backends {
				t.backends = append(t.backends, b.Addr)
			}
			if port.Weighted {
				t.shares, t.total = port.Shares()
			}
			want[key{port.Protocol, port.Published}] = t
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, f := range p.ports {
		if _, ok := want[k]; !ok {
			f.close()
			delete(p.ports, k)
			p.log.Info("ingress: port closed", "protocol", k.protocol, "port", k.port)
		}
	}
	var errs []error
	for k, t := range want {
		f, ok := p.ports[k]
		if !ok {
			var err error
			if f, err = p.open(k, t); err != nil {
				errs = append(errs, err)
				continue
			}
			p.ports[k] = f
			p.log.Info("ingress: accepting", "service", t.service, "protocol", k.protocol, "addr", p.addr(k.port))
		}
		f.target.Store(t)
		if f.updated != nil {
			f.updated(t)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("ingress: %v", errs)
	}
	return nil
}

// Close stops accepting on every port and ends the UDP sessions; TCP
// connections in progress run to their end.
func (p *Proxy) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, f := range p.ports {
		f.close()
		delete(p.ports, k)
	}
}

// network is "tcp4" or "udp4" for an IPv4 address (0.0.0.0 would
// otherwise be a dual-stack IPv6 socket), the plain name otherwise.
func (p *Proxy) network(proto string) string {
	if p.cfg.Addr.Is4() {
		return proto + "4"
	}
	return proto
}

func (p *Proxy) addr(port uint16) string {
	return netip.AddrPortFrom(p.cfg.Addr, port).String()
}

// open listens on k and serves it, forwarding to t until Update says
// otherwise.
func (p *Proxy) open(k key, t *target) (*frontend, error) {
	f := &frontend{key: k, rand: p.cfg.Rand}
	f.target.Store(t)
	switch k.protocol {
	case "tcp":
		l, err := net.Listen(p.network("tcp"), p.addr(k.port))
		if err != nil {
			return nil, err
		}
		f.close = func() { l.Close() }
		go p.serveTCP(f, l)
	case "udp":
		c, err := net.ListenUDP(p.network("udp"), net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.cfg.Addr, k.port)))
		if err != nil {
			return nil, err
		}
		u := newUDPFrontend(p, f, c)
		f.close, f.updated = u.close, u.prune
		go u.serve()
	}
	return f, nil
}

// pick returns the backends in the order a new connection tries them:
// round robin, starting one further than the previous connection. On a
// port with a traffic split the first is drawn at random by the
// backends' shares, and only backends with a share follow (one that
// drains takes no new connection).
func (f *frontend) pick() (*target, []netip.AddrPort) {
	t := f.target.Load()
	n := len(t.backends)
	if n == 0 {
		return t, nil
	}
	start := int(f.next.Add(1) % uint64(n))
	if t.shares != nil && t.total > 0 {
		r := f.rand(t.total)
		for i, s := range t.shares {
			if r < s {
				start = i
				break
			}
			r -= s
		}
	}
	out := make([]netip.AddrPort, 0, n)
	for i := range n {
		j := (start + i) % n
		if t.shares == nil || t.shares[j] > 0 {
			out = append(out, t.backends[j])
		}
	}
	return t, out
}
