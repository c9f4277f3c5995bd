package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// The service traffic tests' extras:
//
//   - $HOST: the address to listen on (default all: a process task on
//     one of several agents sharing a host listens on its node's, e.g.
//     HOST=$SHOAL_TASK_IP);
//   - GET /whoami answers "TASK CLIENT", CLIENT being the connection's
//     source as the server sees it;
//   - $HELLO_PROXY_PROTOCOL=1: every connection must start with a PROXY
//     protocol v2 header, whose source becomes the client's address;
//   - $HELLO_UDP=1: also answer each UDP datagram on the same port with
//     "TASK CLIENT PAYLOAD".

// proxyListener reads a PROXY v2 header off each accepted connection.
type proxyListener struct{ net.Listener }

func (l proxyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		src, err := readProxyV2(br)
		c.SetReadDeadline(time.Time{})
		if err != nil {
			fmt.Printf("proxy protocol from %s: %v\n", c.RemoteAddr(), err)
			c.Close()
			continue
		}
		return &proxiedConn{Conn: c, r: br, remote: net.TCPAddrFromAddrPort(src)}, nil
	}
}

type proxiedConn struct {
	net.Conn
	r      *bufio.Reader
	remote net.Addr
}

func (c *proxiedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
func (c *proxiedConn) RemoteAddr() net.Addr       { return c.remote }

// readProxyV2 reads a v2 header (PROXY command, TCP over IPv4 or IPv6)
// and returns its source address.
func readProxyV2(r io.Reader) (netip.AddrPort, error) {
	h := make([]byte, 16)
	if _, err := io.ReadFull(r, h); err != nil {
		return netip.AddrPort{}, err
	}
	if string(h[:12]) != "\r\n\r\n\x00\r\nQUIT\n" || h[12] != 0x21 {
		return netip.AddrPort{}, errors.New("not a PROXY v2 header")
	}
	body := make([]byte, binary.BigEndian.Uint16(h[14:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return netip.AddrPort{}, err
	}
	switch {
	case h[13] == 0x11 && len(body) >= 12:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[:4])), binary.BigEndian.Uint16(body[8:])), nil
	case h[13] == 0x21 && len(body) >= 36:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[:16])), binary.BigEndian.Uint16(body[32:])), nil
	}
	return netip.AddrPort{}, fmt.Errorf("address family %#x", h[13])
}

// serveUDP answers datagrams on addr until the process ends.
func serveUDP(addr, task string) error {
	c, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("hello listening on udp %s\n", c.LocalAddr())
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			c.WriteTo([]byte(fmt.Sprintf("%s %s %s", task, from, buf[:n])), from)
		}
	}()
	return nil
}
