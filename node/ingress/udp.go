package ingress

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// maxUDPSessions bounds one port's UDP client sessions; a datagram from a
// new client beyond it is dropped.
const maxUDPSessions = 4096

// udpFrontend forwards one published UDP port: each client address gets
// a session, a socket connected to one backend, whose answers go back
// to the client from the published port. A session ends after UDPIdle
// without traffic either way.
type udpFrontend struct {
	p  *Proxy
	f  *frontend
	ln *net.UDPConn

	mu       sync.Mutex
	sessions map[netip.AddrPort]*udpSession
	closed   bool
}

type udpSession struct {
	conn    *net.UDPConn
	backend netip.AddrPort
	last    time.Time // guarded by the frontend's mu
}

func newUDPFrontend(p *Proxy, f *frontend, ln *net.UDPConn) *udpFrontend {
	return &udpFrontend{p: p, f: f, ln: ln, sessions: map[netip.AddrPort]*udpSession{}}
}

// serve reads clients' datagrams until the listener is closed.
func (u *udpFrontend) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, client, err := u.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s := u.session(client)
		if s == nil {
			continue // no live backend: dropped, as a closed port's would be
		}
		s.conn.Write(buf[:n])
	}
}

// session returns client's session, opening one to the next live backend.
func (u *udpFrontend) session(client netip.AddrPort) *udpSession {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return nil
	}
	if s, ok := u.sessions[client]; ok {
		s.last = time.Now()
		return s
	}
	if len(u.sessions) >= maxUDPSessions {
		return nil // a flood of sources (spoofed, perhaps): each costs a socket
	}
	t, order := u.f.pick()
	for _, b := range order {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(b))
		if err != nil {
			continue
		}
		s := &udpSession{conn: c, backend: b, last: time.Now()}
		u.sessions[client] = s
		u.p.cfg.Accepted(t.service, "udp")
		go u.reply(client, s)
		return s
	}
	return nil
}

// reply sends the backend's datagrams to client until the session idles
// out or the frontend closes.
func (u *udpFrontend) reply(client netip.AddrPort, s *udpSession) {
	defer s.conn.Close()
	buf := make([]byte, 64<<10)
	idle := u.p.cfg.UDPIdle
	for {
		s.conn.SetReadDeadline(time.Now().Add(idle))
		n, err := s.conn.Read(buf)
		if err == nil {
			u.mu.Lock()
			s.last = time.Now()
			u.mu.Unlock()
			u.ln.WriteToUDPAddrPort(buf[:n], client)
			continue
		}
		u.mu.Lock()
		if errors.Is(err, os.ErrDeadlineExceeded) && !u.closed && time.Since(s.last) < idle {
			u.mu.Unlock()
			continue // the client spoke meanwhile
		}
		// Idle, closed, or refused by the backend (ICMP port unreachable):
		// the client's next datagram opens a new session.
		if u.sessions[client] == s {
			delete(u.sessions, client)
		}
		u.mu.Unlock()
		return
	}
}

// prune ends the sessions whose backend is not in t any more: UDP has no
// connection to leave alone, and the client's next datagram goes to a
// live backend.
func (u *udpFrontend) prune(t *target) {
	live := map[netip.AddrPort]bool{}
	for _, b := range t.backends {
		live[b] = true
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for c, s := range u.sessions {
		if !live[s.backend] {
			s.conn.Close()
			delete(u.sessions, c)
		}
	}
}

// close stops the listener and every session.
func (u *udpFrontend) close() {
	u.ln.Close()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	for c, s := range u.sessions {
		s.conn.Close()
		delete(u.sessions, c)
	}
}
