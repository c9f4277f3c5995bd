package ingress

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-project/shoal/node/endpoints"
)

// backend serves TCP on 127.0.0.1, answering each connection with name,
// or — with proxy — with name and the source address of the PROXY v2
// header it reads first.
func backend(t *testing.T, name string, proxy bool) netip.AddrPort {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if !proxy {
					fmt.Fprint(c, name)
					return
				}
				src, err := readProxyV2(c)
				if err != nil {
					fmt.Fprint(c, "bad header: ", err)
					return
				}
				fmt.Fprint(c, name, " ", src)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).AddrPort()
}

// readProxyV2 parses a PROXY v2 header over IPv4 and returns its source.
func readProxyV2(r io.Reader) (netip.AddrPort, error) {
	h := make([]byte, 16)
	if _, err := io.ReadFull(r, h); err != nil {
		return netip.AddrPort{}, err
	}
	if string(h[:12]) != "\r\n\r\n\x00\r\nQUIT\n" || h[12] != 0x21 || h[13] != 0x11 {
		return netip.AddrPort{}, fmt.Errorf("header % x", h)
	}
	body := make([]byte, binary.BigEndian.Uint16(h[14:]))
	if _, err := io.ReadFull(r, body); err != nil || len(body) < 12 {
		return netip.AddrPort{}, fmt.Errorf("addresses: %v", err)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[:4])), binary.BigEndian.Uint16(body[8:])), nil
}

func freePort(t *testing.T) uint16 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	u.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func service(proto string, published uint16, proxy bool, backends ...netip.AddrPort) []endpoints.Service {
	p := endpoints.Port{Protocol: proto, Target: 80, Published: published, Mode: "ingress", ProxyProtocol: proxy}
	for i, b := range backends {
		p.Backends = append(p.Backends, endpoints.Backend{TaskID: fmt.Sprint(i), Addr: b})
	}
	return []endpoints.Service{{Name: "web", Ports: []endpoints.Port{p}}}
}

func get(t *testing.T, addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return string(b), err
}

func newProxy(t *testing.T) (*Proxy, *atomic.Int64) {
	var n atomic.Int64
	p := New(Config{Addr: netip.MustParseAddr("127.0.0.1"), Accepted: func(string, string) { n.Add(1) }})
	t.Cleanup(p.Close)
	return p, &n
}

// TestTCPRoundRobinAndUpdates: connections alternate over the backends,
// skip one that refuses, follow an Update at once, and get an immediate
// end with no backend; Close stops accepting.
func TestTCPRoundRobinAndUpdates(t *testing.T) {
	p, accepted := newProxy(t)
	a, b := backend(t, "a", false), backend(t, "b", false)
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), freePort(t))
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := p.Update(service("tcp", port, false, a, dead, b)); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := 0; i < 9; i++ {
		out, err := get(t, addr)
		if err != nil {
			t.Fatal(err)
		}
		seen[out]++
	}
	if seen["a"] < 3 || seen["b"] < 3 || len(seen) != 2 {
		t.Errorf("answers %v: want a and b, each at least 3 of 9 (the refusing backend skipped)", seen)
	}
	if accepted.Load() != 9 {
		t.Errorf("accepted %d, want 9", accepted.Load())
	}
	if err := p.Update(service("tcp", port, false, b)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if out, err := get(t, addr); err != nil || out != "b" {
			t.Fatalf("after a left: %q %v", out, err)
		}
	}
	if err := p.Update(service("tcp", port, false)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, _ := get(t, addr); out != "" || time.Since(start) > time.Second {
		t.Errorf("no backends: %q after %s, want nothing at once", out, time.Since(start))
	}
	p.Close()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting after Close")
	}
}

// TestProxyProtocolV2: the backend reads the client's own address from
// the header.
func TestProxyProtocolV2(t *testing.T) {
	p, _ := newProxy(t)
	port := freePort(t)
	if err := p.Update(service("tcp", port, true, backend(t, "a", true))); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a " + c.LocalAddr().String(); string(out) != want {
		t.Errorf("backend says %q, want %q", out, want)
	}
}

func TestProxyHeaderV2Bytes(t *testing.T) {
	h := proxyHeaderV2(netip.MustParseAddrPort("10.0.0.1:4000"), netip.MustParseAddrPort("10.0.0.2:80"))
	want := "0d0a0d0a000d0a515549540a" + "21" + "11" + "000c" + "0a000001" + "0a000002" + "0fa0" + "0050"
	if got := fmt.Sprintf("%x", h); got != want {
		t.Errorf("header %s, want %s", got, want)
	}
	h6 := proxyHeaderV2(netip.MustParseAddrPort("[fd00::1]:1"), netip.MustParseAddrPort("[fd00::2]:2"))
	if len(h6) != 16+36 || h6[13] != 0x21 {
		t.Errorf("IPv6 header % x", h6)
	}
}

// udpEcho answers each datagram with name and the datagram.
func udpEcho(t *testing.T, name string) netip.AddrPort {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort([]byte(name+" "+string(buf[:n])), from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestUDPSessions: a client's datagrams and their answers go through one
// session; a session whose backend leaves ends, and the next datagram
// goes to a live backend.
func TestUDPSessions(t *testing.T) {
	p, _ := newProxy(t)
	a, b := udpEcho(t, "a"), udpEcho(t, "b")
	port := freePort(t)
	if err := p.Update(service("udp", port, false, a)); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	ask := func(msg string) string {
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 2048)
		n, err := r.Read(buf)
		if err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		return string(buf[:n])
	}
	for i := 0; i < 3; i++ {
		if got := ask(fmt.Sprint("ping", i)); got != fmt.Sprint("a ping", i) {
			t.Fatalf("answer %q", got)
		}
	}
	if err := p.Update(service("udp", port, false, b)); err != nil {
		t.Fatal(err)
	}
	if got := ask("again"); !strings.HasPrefix(got, "b ") {
		t.Errorf("after a left: %q, want b's answer", got)
	}
}

// TestUDPAnswersFromTheAddressAsked: on 0.0.0.0 the answer to a
// datagram sent to 127.0.0.2 comes from 127.0.0.2, which the client's
// connected socket requires.
func TestUDPAnswersFromTheAddressAsked(t *testing.T) {
	p := New(Config{Addr: netip.IPv4Unspecified()})
	t.Cleanup(p.Close)
	port := freePort(t)
	if err := p.Update(service("udp", port, false, udpEcho(t, "a"))); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.2:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hi"))
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 100)
	n, err := c.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "a ") {
		t.Fatalf("answer %q %v", buf[:n], err)
	}
}
