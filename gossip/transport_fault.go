package gossip

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// streamTag starts the header FaultTransport writes on every stream it
// dials: the tag, one length byte, then the dialer's gossip address. It is
// not a memberlist message type, so untagged streams pass through.
const streamTag = 0xFA

// headerTimeout bounds the wait for an inbound stream's first bytes.
const headerTimeout = 5 * time.Second

// FaultTransport wraps a memberlist transport and cuts links to chosen
// gossip addresses ("ip:port"), for rootless partition tests. Blocked
// packets vanish silently, as on a real network; streams (TCP needs both
// directions) are refused when either direction is blocked. Inbound
// streams are recognised by a small header, so every node of a test
// cluster must use a FaultTransport.
type FaultTransport struct {
	inner    memberlist.NodeAwareTransport
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	stopOnce sync.Once

	mu   sync.RWMutex
	self string              // our advertised address, for stream headers
	in   map[string]struct{} // drop packets from these
	out  map[string]struct{} // drop packets to these
}

var _ memberlist.NodeAwareTransport = (*FaultTransport)(nil)

// NewFaultTransport wraps inner, which it owns from now on.
func NewFaultTransport(inner memberlist.NodeAwareTransport) *FaultTransport {
	t := &FaultTransport{
		inner:    inner,
		packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn),
		done:     make(chan struct{}),
		in:       make(map[string]struct{}),
		out:      make(map[string]struct{}),
	}
	go t.pumpPackets()
	go t.pumpStreams()
	return t
}

// Block cuts all traffic to and from addr.
func (t *FaultTransport) Block(addr string) { t.BlockInbound(addr); t.BlockOutbound(addr) }

// BlockInbound drops packets from addr (and refuses streams with it).
func (t *FaultTransport) BlockInbound(addr string) { t.set(t.in, addr, true) }

// BlockOutbound drops packets to addr (and refuses streams with it).
func (t *FaultTransport) BlockOutbound(addr string) { t.set(t.out, addr, true) }

// Unblock restores traffic with addr in both directions.
func (t *FaultTransport) Unblock(addr string) { t.set(t.in, addr, false); t.set(t.out, addr, false) }

func (t *FaultTransport) set(m map[string]struct{}, addr string, on bool) {
	addr = normAddr(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	if on {
		m[addr] = struct{}{}
	} else {
		delete(m, addr)
	}
}

func (t *FaultTransport) blocked(m map[string]struct{}, addr string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := m[normAddr(addr)]
	return ok
}

func (t *FaultTransport) streamBlocked(addr string) bool {
	return t.blocked(t.in, addr) || t.blocked(t.out, addr)
}

// normAddr canonicalises "ip:port" so that equal addresses compare equal.
func normAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil {
		host = ip.String()
	}
	return net.JoinHostPort(host, port)
}

// GetAutoBindPort forwards to the inner transport when it has one.
func (t *FaultTransport) GetAutoBindPort() int {
	if p, ok := t.inner.(interface{ GetAutoBindPort() int }); ok {
		return p.GetAutoBindPort()
	}
	return 0
}

// FinalAdvertiseAddr forwards to the inner transport and remembers the
// result for stream headers.
func (t *FaultTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	aip, aport, err := t.inner.FinalAdvertiseAddr(ip, port)
	if err == nil {
		t.mu.Lock()
		t.self = net.JoinHostPort(aip.String(), strconv.Itoa(aport))
		t.mu.Unlock()
	}
	return aip, aport, err
}

// WriteTo sends b to addr unless the outbound link is cut.
func (t *FaultTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends b to addr unless the outbound link is cut.
func (t *FaultTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	if t.blocked(t.out, addr.Addr) {
		return time.Now(), nil
	}
	return t.inner.WriteToAddress(b, addr)
}

// PacketCh returns the packets that passed the inbound filter.
func (t *FaultTransport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout opens a stream to addr unless the link is cut.
func (t *FaultTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a stream to addr unless the link is cut, and
// writes the header naming this node.
func (t *FaultTransport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.streamBlocked(addr.Addr) {
		return nil, fmt.Errorf("fault transport: link to %s is blocked", addr.Addr)
	}
	conn, err := t.inner.DialAddressTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	t.mu.RLock()
	self := t.self
	t.mu.RUnlock()
	hdr := append([]byte{streamTag, byte(len(self))}, self...)
	if _, err := conn.Write(hdr); err != nil {
		conn.Close()
		return nil, fmt.Errorf("fault transport: write header to %s: %w", addr.Addr, err)
	}
	return conn, nil
}

// StreamCh returns the inbound streams that passed the filter.
func (t *FaultTransport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown stops the inner transport, then the filters. The order
// matters: NetTransport's listeners block on unread channel sends, so the
// filters keep draining until the inner transport has stopped.
func (t *FaultTransport) Shutdown() error {
	err := t.inner.Shutdown()
	t.stopOnce.Do(func() { close(t.done) })
	return err
}

func (t *FaultTransport) pumpPackets() {
	for {
		select {
		case p := <-t.inner.PacketCh():
			if p.From != nil && t.blocked(t.in, p.From.String()) {
				continue
			}
			select {
			case t.packetCh <- p:
			case <-t.done:
				return
			}
		case <-t.done:
			return
		}
	}
}

func (t *FaultTransport) pumpStreams() {
	for {
		select {
		case c := <-t.inner.StreamCh():
			go t.admit(c)
		case <-t.done:
			return
		}
	}
}

// admit reads the stream header, if any, and hands the stream on unless
// it comes from a blocked address.
func (t *FaultTransport) admit(c net.Conn) {
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	first, err := r.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	if first[0] == streamTag {
		var hdr [2]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			c.Close()
			return
		}
		from := make([]byte, hdr[1])
		if _, err := io.ReadFull(r, from); err != nil || t.streamBlocked(string(from)) {
			c.Close()
			return
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	select {
	case t.streamCh <- &bufConn{Conn: c, r: r}:
	case <-t.done:
		c.Close()
	}
}

// bufConn is a net.Conn whose reads go through the reader that consumed
// the header.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }
