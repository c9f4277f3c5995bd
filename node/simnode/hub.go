package simnode

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// A thousand machines each have a kernel that moves their gossip; a
// thousand simulated members in one process share one, and loopback UDP
// costs a system call and a softirq per packet on the sender's core (half
// the simulator's CPU at 600 members, most of it gossip among the
// simulated members themselves). So the gossip of one simulated member to
// another goes through the process's hub, in memory, as the same bytes
// (labelled and encrypted by memberlist, exactly as on the wire); gossip
// to and from the real agents goes over UDP and TCP as before. The agents'
// side of the protocol is unchanged.

// gossipHub routes gossip between the simulated members of a process.
type gossipHub struct {
	mu      sync.RWMutex
	members map[string]*hubTransport // by "ip:port"
}

// hub is the process's gossip hub.
var hub = &gossipHub{members: map[string]*hubTransport{}}

func (h *gossipHub) lookup(addr string) *hubTransport {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.members[addr]
}

// hubTransport is a memberlist transport that hands packets and streams
// to other members of the hub in memory, and uses its NetTransport (which
// also receives from outside) for everyone else.
type hubTransport struct {
	net     *memberlist.NetTransport
	self    *net.UDPAddr
	packets chan *memberlist.Packet
	streams chan net.Conn
	done    chan struct{}
	once    sync.Once
}

var _ memberlist.NodeAwareTransport = (*hubTransport)(nil)

// newHubTransport wraps nt, listening at ip:port, and joins the hub.
func newHubTransport(nt *memberlist.NetTransport, ip string, port int) *hubTransport {
	t := &hubTransport{
		net:     nt,
		self:    &net.UDPAddr{IP: net.ParseIP(ip), Port: port},
		packets: make(chan *memberlist.Packet, 256),
		streams: make(chan net.Conn, 16),
		done:    make(chan struct{}),
	}
	go t.forward()
	hub.mu.Lock()
	hub.members[t.self.String()] = t
	hub.mu.Unlock()
	return t
}

// forward passes on what the NetTransport receives from outside, until
// Shutdown. It never blocks on memberlist: a packet it cannot hand over
// is dropped, as the kernel drops UDP, and so is a stream; the
// NetTransport's listeners, which Shutdown waits for, never wait on it.
func (t *hubTransport) forward() {
	for {
		select {
		case <-t.done:
			return
		case p := <-t.net.PacketCh():
			select {
			case t.packets <- p:
			default:
			}
		case c := <-t.net.StreamCh():
			select {
			case t.streams <- c:
			default:
				c.Close()
			}
		}
	}
}

func (t *hubTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.net.FinalAdvertiseAddr(ip, port)
}

func (t *hubTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress delivers to a hub member in memory, like a UDP packet: a
// full receiver drops it.
func (t *hubTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	to := hub.lookup(a.Addr)
	if to == nil {
		return t.net.WriteToAddress(b, a)
	}
	now := time.Now()
	p := &memberlist.Packet{Buf: append([]byte(nil), b...), From: t.self, Timestamp: now}
	select {
	case to.packets <- p:
	case <-to.done:
	default:
	}
	return now, nil
}

func (t *hubTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *hubTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout connects to a hub member over a pipe.
func (t *hubTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	to := hub.lookup(a.Addr)
	if to == nil {
		return t.net.DialAddressTimeout(a, timeout)
	}
	mine, theirs := net.Pipe()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case to.streams <- theirs:
		return mine, nil
	case <-to.done:
	case <-timer.C:
	}
	mine.Close()
	theirs.Close()
	return nil, errors.New("simnode: hub dial " + a.Addr + ": not accepted")
}

func (t *hubTransport) StreamCh() <-chan net.Conn { return t.streams }

// Shutdown leaves the hub and stops the NetTransport, then the forwarder.
func (t *hubTransport) Shutdown() error {
	var err error
	t.once.Do(func() {
		hub.mu.Lock()
		if hub.members[t.self.String()] == t {
			delete(hub.members, t.self.String())
		}
		hub.mu.Unlock()
		err = t.net.Shutdown()
		close(t.done)
	})
	return err
}
