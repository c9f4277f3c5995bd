package chaos

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/shoal-project/shoal/integration/harness"
)

// inNS runs f on a thread switched into the lab's network namespace ns
// (harness.InNetNS).
func inNS(ns string, f func() error) error { return harness.InNetNS("/run/netns/"+ns, f) }

// udpProbe has a UDP socket on every lab node and on the root side, and
// tells whether a datagram gets from one to another.
type udpProbe struct {
	t     *testing.T
	lab   *netLab
	conns map[string]*net.UDPConn // by node name; "root" is the gateway
	seq   int
}

func newUDPProbe(t *testing.T, lab *netLab) *udpProbe {
	p := &udpProbe{t: t, lab: lab, conns: map[string]*net.UDPConn{}}
	listen := func(name, ip string) error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip), Port: 9000})
		if err == nil {
			p.conns[name] = c
			t.Cleanup(func() { c.Close() })
		}
		return err
	}
	if err := listen("root", lab.gateway()); err != nil {
		t.Fatal(err)
	}
	for _, n := range lab.nodes {
		if err := inNS(n.ns, func() error { return listen(n.name, n.ip) }); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// reaches sends a datagram from one socket to another's address and
// reports whether it arrives within 300ms.
func (p *udpProbe) reaches(from, to string) bool {
	p.seq++
	msg := fmt.Sprintf("%s->%s #%d", from, to, p.seq)
	dst := p.conns[to].LocalAddr().(*net.UDPAddr)
	if _, err := p.conns[from].WriteToUDP([]byte(msg), dst); err != nil {
		return false // EPERM: the output chain dropped it
	}
	buf := make([]byte, 128)
	deadline := time.Now().Add(300 * time.Millisecond)
	for {
		p.conns[to].SetReadDeadline(deadline)
		n, _, err := p.conns[to].ReadFromUDP(buf)
		if err != nil {
			return false
		}
		if string(buf[:n]) == msg {
			return true
		}
	}
}

// expect checks reachability between every pair against the cut set
// (from→to pairs that must not arrive).
func (p *udpProbe) expect(stage string, cut ...string) {
	p.t.Helper()
	names := []string{"root"}
	for _, n := range p.lab.nodes {
		names = append(names, n.name)
	}
	for _, from := range names {
		for _, to := range names {
			if from == to {
				continue
			}
			want := !slices.Contains(cut, from+">"+to)
			if got := p.reaches(from, to); got != want {
				p.t.Errorf("%s: %s → %s arrives=%v, want %v", stage, from, to, got, want)
			}
		}
	}
}

// TestNetLabCutsAndHeals: the lab connects every namespace and the root
// side; a cut drops exactly the named peers both ways (the root side
// still gets through), a one-way cut only the node's output, heal undoes
// both and is idempotent, and close leaves no namespace or link behind.
func TestNetLabCutsAndHeals(t *testing.T) {
	lab := newNetLab(t, []string{"n1", "n2", "n3"})
	p := newUDPProbe(t, lab)
	nft := nftPartitioner{lab}
	p.expect("fresh lab")

	if err := nft.block("n1", []string{"n2"}, false); err != nil {
		t.Fatal(err)
	}
	p.expect("n1 cut from n2", "n1>n2", "n2>n1")
	for _, n := range []string{"n1", "n2", "n3"} {
		if err := nft.heal(n); err != nil { // n2, n3: nothing to heal
			t.Fatal(err)
		}
	}
	p.expect("healed")

	if err := nft.block("n3", []string{"n1", "n2"}, true); err != nil {
		t.Fatal(err)
	}
	p.expect("n3 drops its output to n1,n2", "n3>n1", "n3>n2")
	if err := nft.heal("n3"); err != nil {
		t.Fatal(err)
	}
	if err := nft.heal("n3"); err != nil {
		t.Fatalf("second heal: %v", err)
	}
	p.expect("healed again")
	if err := nft.block("n9", nil, false); err == nil {
		t.Fatal("a cut on an unknown node succeeded")
	}

	for _, c := range p.conns {
		c.Close()
	}
	if err := lab.close(); err != nil {
		t.Fatal(err)
	}
	if err := lab.close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	for _, n := range netnsNames() {
		if labNSName.MatchString(n) {
			t.Errorf("namespace %s left after close", n)
		}
	}
	if left := labLinks(); len(left) > 0 {
		t.Errorf("links left after close: %v", left)
	}
}
