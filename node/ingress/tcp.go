package ingress

import (
	"io"
	"net"
	"net/netip"
	"sync"
)

// serveTCP accepts on l until it is closed.
func (p *Proxy) serveTCP(f *frontend, l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go p.forwardTCP(f, c.(*net.TCPConn))
	}
}

// forwardTCP connects the client to the first backend that accepts (in
// round-robin order), writes the PROXY header if the port asks for one,
// and copies both ways until both sides are done.
func (p *Proxy) forwardTCP(f *frontend, client *net.TCPConn) {
	defer client.Close()
	t, order := f.pick()
	var backend *net.TCPConn
	for _, b := range order {
		c, err := net.DialTimeout("tcp", b.String(), p.cfg.DialTimeout)
		if err == nil {
			backend = c.(*net.TCPConn)
			break
		}
		p.log.Debug("ingress: backend refused", "service", t.service, "backend", b, "err", err)
	}
	if backend == nil {
		// No live backend: the client sees a reset, not a hang.
		client.SetLinger(0)
		return
	}
	defer backend.Close()
	p.cfg.Accepted(t.service, "tcp")
	if t.proxyProtocol {
		src := client.RemoteAddr().(*net.TCPAddr).AddrPort()
		dst := client.LocalAddr().(*net.TCPAddr).AddrPort()
		if _, err := backend.Write(proxyHeaderV2(src, dst)); err != nil {
			return
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pipe(backend, client) }()
	go func() { defer wg.Done(); pipe(client, backend) }()
	wg.Wait()
}

// pipe copies from src to dst (splice(2) between TCP sockets), then
// half-closes dst so the other side sees the end.
func pipe(dst, src *net.TCPConn) {
	io.Copy(dst, src)
	dst.CloseWrite()
}

// proxyHeaderV2 is a PROXY protocol v2 header (command PROXY, stream)
// naming src as the client and dst as the address it connected to.
// The format is small and fixed (haproxy's proxy-protocol.txt, section
// 2.2), so it is written here rather than taken from a library.
func proxyHeaderV2(src, dst netip.AddrPort) []byte {
	h := []byte("\r\n\r\n\x00\r\nQUIT\n")
	h = append(h, 0x21) // version 2, PROXY
	s, d := src.Addr().Unmap(), dst.Addr().Unmap()
	if s.Is4() && d.Is4() {
		h = append(h, 0x11, 0, 12) // TCP over IPv4, 12 bytes of addresses
		a, b := s.As4(), d.As4()
		h = append(append(h, a[:]...), b[:]...)
	} else {
		h = append(h, 0x21, 0, 36) // TCP over IPv6
		a, b := src.Addr().As16(), dst.Addr().As16()
		h = append(append(h, a[:]...), b[:]...)
	}
	return append(h, byte(src.Port()>>8), byte(src.Port()), byte(dst.Port()>>8), byte(dst.Port()))
}
