package ingress

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// maxUDPSessions bounds one port's UDP client sessions; a datagram from a
// new client beyond it is dropped.
const maxUDPSessions = 4096

// udpFrontend forwards one published UDP port: each client address gets
// a session, a socket connected to one backend, whose answers go back
// to the client from the published port. A session ends after UDPIdle
// without traffic either way. On a listener on every IPv4 address the
// answers go from the address the client wrote to (IP_PKTINFO): a
// client's connected socket drops a datagram from any other.
type udpFrontend struct {
	p  *Proxy
	f  *frontend
	ln *net.UDPConn
	pc *ipv4.PacketConn // nil unless ln accepts on every IPv4 address

	mu       sync.Mutex
	sessions map[netip.AddrPort]*udpSession
	closed   bool
}

type udpSession struct {
	conn    *net.UDPConn
	backend netip.AddrPort
	local   net.IP    // the address the client wrote to (pc only)
	last    time.Time // guarded by the frontend's mu
}

func newUDPFrontend(p *Proxy, f *frontend, ln *net.UDPConn) *udpFrontend {
	u := &udpFrontend{p: p, f: f, ln: ln, sessions: map[netip.AddrPort]*udpSession{}}
	if a := ln.LocalAddr().(*net.UDPAddr).AddrPort().Addr(); a.Is4() && a.IsUnspecified() {
		pc := ipv4.NewPacketConn(ln)
		if pc.SetControlMessage(ipv4.FlagDst, true) == nil {
			u.pc = pc
		}
	}
	return u
}

// read returns one client datagram, its source and (pc only) the
// address it was sent to.
func (u *udpFrontend) read(buf []byte) (int, netip.AddrPort, net.IP, error) {
	if u.pc == nil {
		n, client, err := u.ln.ReadFromUDPAddrPort(buf)
		return n, client, nil, err
	}
	n, cm, src, err := u.pc.ReadFrom(buf)
	if err != nil {
		return 0, netip.AddrPort{}, nil, err
	}
	var local net.IP
	if cm != nil {
		local = cm.Dst
	}
	ap := src.(*net.UDPAddr).AddrPort()
	return n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), local, nil
}

// write sends an answer to client from s's local address.
func (u *udpFrontend) write(b []byte, client netip.AddrPort, s *udpSession) {
	if u.pc == nil || s.local == nil {
		u.ln.WriteToUDPAddrPort(b, client)
		return
	}
	u.pc.WriteTo(b, &ipv4.ControlMessage{Src: s.local}, net.UDPAddrFromAddrPort(client))
}

// serve reads clients' datagrams until the listener is closed.
func (u *udpFrontend) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, client, local, err := u.read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s := u.session(client, local)
		if s == nil {
			continue // no live backend: dropped, as a closed port's would be
		}
		s.conn.Write(buf[:n])
	}
}

// session returns client's session, opening one to the next live backend.
func (u *udpFrontend) session(client netip.AddrPort, local net.IP) *udpSession {
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
		s := &udpSession{conn: c, backend: b, local: local, last: time.Now()}
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
			u.write(buf[:n], client, s)
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
