package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Defaults of Config.
const (
	DefaultResolvConf = "/etc/resolv.conf"
	DefaultTimeout    = 2 * time.Second
	DefaultTTL        = 2 * time.Second
)

// ednsSize is the UDP payload size the server announces in its own
// answers: the size DNS Flag Day 2020 recommends, which avoids
// fragmentation.
const ednsSize = 1232

// Config configures a Server.
type Config struct {
	// Addr is the IP:port the server listens on, over UDP and TCP (the
	// same port for both, as resolvers retry truncated answers over TCP
	// at the address they asked). Port 0 picks a free port.
	Addr string
	// ResolvConf is the file whose nameservers get the names the server
	// does not answer; DefaultResolvConf when empty. It is read again
	// when it changes, and a nameserver that is the server itself is
	// skipped.
	ResolvConf string
	// Upstreams, when not nil, replaces ResolvConf: the resolvers to ask,
	// in order, as IP:port (empty: none, every forwarded name fails).
	Upstreams []string
	// Timeout bounds each exchange with an upstream resolver;
	// DefaultTimeout when zero.
	Timeout time.Duration
	// TTL of the answers the server makes (whole seconds, at least 1);
	// DefaultTTL when zero. Short, so clients follow task changes.
	TTL time.Duration
	// Logger gets the server's errors; slog.Default() when nil.
	Logger *slog.Logger
}

// Server is the embedded DNS server. Its records are swapped atomically
// (SetRecords), so a query sees one consistent Records.
type Server struct {
	cfg     Config
	ttl     uint32
	log     *slog.Logger
	records atomic.Pointer[recordsBox]
	stats   counters

	mu       sync.Mutex
	started  bool
	addr     netip.AddrPort
	fwd      *forwarder
	udp, tcp *dns.Server
	cancel   context.CancelFunc
	ctx      context.Context // ends with Close: cancels forwarded queries
	done     chan struct{}   // closed when both servers returned
}

type recordsBox struct{ r Records }

// New checks cfg and returns a server that is not listening yet.
func New(cfg Config) (*Server, error) {
	if _, err := netip.ParseAddrPort(cfg.Addr); err != nil {
		return nil, fmt.Errorf("dns: listen address %q: %w", cfg.Addr, err)
	}
	for _, u := range cfg.Upstreams {
		if _, err := netip.ParseAddrPort(u); err != nil {
			return nil, fmt.Errorf("dns: upstream %q: %w", u, err)
		}
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = DefaultResolvConf
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	ttl := uint32(cfg.TTL / time.Second)
	if ttl == 0 {
		ttl = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Server{cfg: cfg, ttl: ttl, log: cfg.Logger}, nil
}

// SetRecords makes r what every following query is answered from. Until
// the first call, names under .shoal get SERVFAIL and others are
// forwarded. r must not change afterwards unless it is safe for
// concurrent use.
func (s *Server) SetRecords(r Records) { s.records.Store(&recordsBox{r}) }

func (s *Server) currentRecords() Records {
	if b := s.records.Load(); b != nil {
		return b.r
	}
	return nil
}

// Start listens on the configured address over UDP and TCP and serves
// until ctx ends or Close is called. It returns once both are serving.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("dns: server already started")
	}
	pc, ln, err := listen(s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	s.started = true
	s.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	up := &upstreams{fixed: s.cfg.Upstreams, path: s.cfg.ResolvConf, own: ownAddr(s.addr)}
	s.fwd = newForwarder(up, s.cfg.Timeout)
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: ln, Handler: s, ReadTimeout: 5 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }}

	var started, served sync.WaitGroup
	var early atomic.Value // the error of a server that stopped before it started
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started.Add(1)
		served.Add(1)
		notify := sync.OnceFunc(started.Done)
		srv.NotifyStartedFunc = notify
		go func() {
			defer served.Done()
			err := srv.ActivateAndServe()
			if err != nil && s.ctx.Err() == nil {
				early.CompareAndSwap(nil, err)
				s.log.Error("dns: server stopped", "addr", s.addr.String(), "err", err)
			}
			notify()
		}()
	}
	started.Wait()
	go func() { served.Wait(); close(s.done) }()
	go func() {
		<-s.ctx.Done()
		s.shutdown()
	}()
	if err, _ := early.Load().(error); err != nil {
		s.cancel()
		<-s.done
		return fmt.Errorf("dns: %w", err)
	}
	return nil
}

// Addr returns the address the server listens on (UDP and TCP), once
// started.
func (s *Server) Addr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Close stops the server and waits until it stopped serving.
func (s *Server) Close() error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	s.cancel()
	<-s.done
	return nil
}

// shutdown stops both servers; it runs once, when s.ctx ends.
func (s *Server) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if err := srv.ShutdownContext(ctx); err != nil {
			s.log.Debug("dns: shutdown", "err", err)
		}
	}
	// A server that failed before it served has not closed its socket.
	_ = s.udp.PacketConn.Close()
	_ = s.tcp.Listener.Close()
}

// listen opens addr over UDP and the same port over TCP. With port 0 it
// retries when the port UDP got is taken over TCP.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	want, _ := netip.ParseAddrPort(addr)
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(want.Addr().String(), fmt.Sprint(port)))
		if err == nil {
			return pc, ln, nil
		}
		pc.Close()
		if want.Port() != 0 || attempt == 10 {
			return nil, nil, err
		}
	}
}
