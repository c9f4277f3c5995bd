package vip

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/node/endpoints"
)

// freePort is a TCP port free on 127.0.0.1 now.
func freePort(t *testing.T) uint16 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

// getFrom is get with the connection's source address set.
func getFrom(src, addr string) (string, error) {
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 256)
	n, _ := c.Read(b)
	return string(b[:n]), nil
}

// TestIngressDNAT: a host client (output chain) reaches a TCP ingress
// port on the node's bind address, spread over both backends; the
// backend on this node sees the client's own address, the one on
// another node (masqueraded) does not; PROXY protocol and UDP ports get
// no rule; on 0.0.0.0 the match is `fib daddr type local`; on an IPv6
// bind address there is no ingress rule.
func TestIngressDNAT(t *testing.T) {
	needRoot(t)
	table := TableName(fmt.Sprintf("vip-ingress-test-%d", os.Getpid()))
	t.Cleanup(func() { Remove(table) })
	target, published := freePort(t), freePort(t)
	listen(t, fmt.Sprintf("127.0.0.1:%d", target), "here")
	listen(t, fmt.Sprintf("127.0.0.2:%d", target), "there")
	be := func(id, addr, node string) endpoints.Backend {
		return endpoints.Backend{TaskID: id, Addr: netip.AddrPortFrom(netip.MustParseAddr(addr), target), NodeID: node}
	}
	backends := []endpoints.Backend{be("a", "127.0.0.1", "n1"), be("b", "127.0.0.2", "n2")}
	svc := endpoints.Service{Name: "web", Ports: []endpoints.Port{
		{Protocol: "tcp", Target: target, Published: published, Mode: "ingress", Backends: backends},
		{Protocol: "tcp", Target: target, Published: published + 1, Mode: "ingress", ProxyProtocol: true, Backends: backends},
		{Protocol: "udp", Target: target, Published: published + 2, Mode: "ingress", Backends: backends},
	}}
	node := Node{ID: "n1", Bind: netip.MustParseAddr("127.0.0.1")}
	if err := Sync(table, node, []endpoints.Service{svc}); err != nil {
		t.Fatal(err)
	}
	// A second agent on this host, with an ingress port of its own: its
	// postrouting sees n1's connections too, and must leave them alone.
	other := TableName(fmt.Sprintf("vip-ingress-test-other-%d", os.Getpid()))
	t.Cleanup(func() { Remove(other) })
	otherSvc := endpoints.Service{Name: "api", Ports: []endpoints.Port{{Protocol: "tcp", Target: target, Published: freePort(t), Mode: "ingress",
		Backends: []endpoints.Backend{be("c", "127.0.0.2", "n9")}}}}
	if err := Sync(other, Node{ID: "n9", Bind: netip.MustParseAddr("127.0.0.3")}, []endpoints.Service{otherSvc}); err != nil {
		t.Fatal(err)
	}
	rules, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	t.Logf("%s", rules)
	if err != nil || strings.Count(string(rules), "dnat ip to numgen") != 1 ||
		!strings.Contains(string(rules), fmt.Sprintf("ip daddr 127.0.0.1 tcp dport %d ct mark set ct mark & ", published)) ||
		!strings.Contains(string(rules), fmt.Sprintf(" | 0x%08x dnat", ingressMark(table))) ||
		!strings.Contains(string(rules), fmt.Sprintf("ct mark 0x%08x/16 ip daddr != @local masquerade", ingressMark(table))) ||
		!strings.Contains(string(rules), "ip daddr != @local masquerade") {
		t.Fatalf("nft list table: %v (want one DNAT rule, the TCP port's, and the masquerade)", err)
	}
	// A client on 127.0.0.9, neither node's address.
	seen := map[string]string{}
	for i := 0; i < 60 && len(seen) < 2; i++ {
		out, err := getFrom("127.0.0.9", fmt.Sprintf("127.0.0.1:%d", published))
		if err != nil {
			t.Fatalf("through the ingress port: %v", err)
		}
		name, client, _ := strings.Cut(out, " ")
		seen[name] = client
	}
	if len(seen) != 2 {
		t.Fatalf("answers %v, want both backends", seen)
	}
	if seen["here"] != "127.0.0.9" {
		t.Errorf("the local backend saw %s, want the client's 127.0.0.9", seen["here"])
	}
	if seen["there"] == "127.0.0.9" {
		t.Errorf("the other node's backend saw the client's own address: not masqueraded")
	}
	t.Logf("clients seen: %v", seen)
	// Another address of the host is not this node's: no DNAT, nothing listens.
	if _, err := getFrom("127.0.0.9", fmt.Sprintf("127.0.0.2:%d", published)); err == nil {
		t.Errorf("127.0.0.2:%d answered: DNAT on an address that is not the node's", published)
	}

	node.Bind = netip.IPv4Unspecified()
	if err := Sync(table, node, []endpoints.Service{svc}); err != nil {
		t.Fatal(err)
	}
	rules, _ = exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if !strings.Contains(string(rules), fmt.Sprintf("fib daddr type local tcp dport %d", published)) {
		t.Fatalf("unspecified bind address: no fib match\n%s", rules)
	}
	if _, err := getFrom("127.0.0.9", fmt.Sprintf("127.0.0.2:%d", published)); err != nil {
		t.Errorf("bound to all addresses, 127.0.0.2:%d: %v", published, err)
	}

	node.Bind = netip.MustParseAddr("::1") // the IPv4 table leaves it to the proxy
	if err := Sync(table, node, []endpoints.Service{svc}); err != nil {
		t.Fatal(err)
	}
	rules, _ = exec.Command("nft", "list", "table", "ip", table).CombinedOutput()
	if strings.Contains(string(rules), "dnat") {
		t.Errorf("an IPv6 bind address: ingress rules in the IPv4 table\n%s", rules)
	}
}
