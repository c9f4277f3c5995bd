package dns

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startServer runs a server on 127.0.0.1:0 with the given records and
// upstreams, closed when the test ends.
func startServer(t *testing.T, recs Records, upstreams ...string) *Server {
	t.Helper()
	if upstreams == nil {
		upstreams = []string{}
	}
	s, err := New(Config{Addr: "127.0.0.1:0", Upstreams: upstreams, Timeout: 500 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if recs != nil {
		s.SetRecords(recs)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// ask sends one question over network ("udp" or "tcp") to s.
func ask(t *testing.T, s *Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	return exchange(t, s, network, m)
}

func exchange(t *testing.T, s *Server, network string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := dns.Client{Net: network, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, s.Addr().String())
	if err != nil {
		t.Fatalf("%s %s over %s: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], network, err)
	}
	return r
}

// addrs returns the A and AAAA addresses of rrs, sorted.
func addrs(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}

// upstream is a fake resolver on 127.0.0.1, UDP and TCP on one port.
type upstream struct {
	addr string
	mu   sync.Mutex
	nets []string // the transport of every query it got
	udp  *dns.Server
	tcp  *dns.Server
}

// startUpstream serves h on 127.0.0.1:0.
func startUpstream(t *testing.T, h func(w dns.ResponseWriter, r *dns.Msg)) *upstream {
	t.Helper()
	return startUpstreamAt(t, "127.0.0.1:0", h)
}

// startUpstreamAt serves h on addr over UDP and TCP.
func startUpstreamAt(t *testing.T, addr string, h func(w dns.ResponseWriter, r *dns.Msg)) *upstream {
	t.Helper()
	pc, ln, err := listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: pc.LocalAddr().String()}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		u.mu.Lock()
		u.nets = append(u.nets, w.RemoteAddr().Network())
		u.mu.Unlock()
		h(w, r)
	})
	u.udp = &dns.Server{PacketConn: pc, Handler: handler}
	u.tcp = &dns.Server{Listener: ln, Handler: handler}
	for _, srv := range []*dns.Server{u.udp, u.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
	}
	t.Cleanup(u.stop)
	return u
}

func (u *upstream) stop() {
	u.udp.Shutdown()
	u.tcp.Shutdown()
}

func (u *upstream) transports() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.nets)
}

// deadAddr returns a 127.0.0.1 address where nothing listens over UDP or
// TCP (it was bound and released).
func deadAddr(t *testing.T) string {
	t.Helper()
	pc, ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ln.Close()
	return addr
}
