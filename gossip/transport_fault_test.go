package gossip

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"
)

// faultCluster starts n members, each on its own FaultTransport.
func faultCluster(t *testing.T, n int) ([]*Gossip, []*FaultTransport) {
	t.Helper()
	fts := make([]*FaultTransport, 0, n)
	gs := cluster(t, n, func(c *Config) {
		nt, err := NewNetTransport(c.BindIP, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		ft := NewFaultTransport(nt)
		fts = append(fts, ft)
		c.Transport = ft
	})
	return gs, fts
}

func TestFaultTransportPartitionAndHeal(t *testing.T) {
	gs, fts := faultCluster(t, 3)
	// Cut n2 off; only n2's transport knows about the partition.
	fts[2].Block(gs[0].Addr())
	fts[2].Block(gs[1].Addr())
	for _, g := range gs[:2] {
		waitFor(t, waitLong, g.name+" sees n2 dead", hasState(g, "n2", MemberDead))
		if ev := nextEvent(t, g, "n2", waitLong, EventDead, EventLeave); ev.Type != EventDead {
			t.Errorf("%s: partition reported as %v", g.name, ev.Type)
		}
	}
	waitFor(t, waitLong, "n2 sees n0 and n1 dead", func() bool {
		return hasState(gs[2], "n0", MemberDead)() && hasState(gs[2], "n1", MemberDead)()
	})
	if m, _ := member(gs[0], "n1"); m.State != MemberAlive {
		t.Errorf("n0 lost n1 across an unrelated partition: %v", m.State)
	}

	fts[2].Unblock(gs[0].Addr())
	fts[2].Unblock(gs[1].Addr())
	for _, g := range gs {
		waitFor(t, waitLong, g.name+" sees all 3 alive after healing", func() bool { return countAlive(g) == 3 })
	}
	nextEvent(t, gs[0], "n2", waitLong, EventJoin)
}

func TestFaultTransportOneWay(t *testing.T) {
	gs, fts := faultCluster(t, 4)
	// n1's packets to n0 vanish. memberlist's indirect probes through n2
	// route around a one-way cut, so n0 and n1 must stay alive to each
	// other while a real crash (n3) is detected meanwhile.
	fts[1].BlockOutbound(gs[0].Addr())
	_ = gs[3].Shutdown()
	for _, g := range gs[:3] {
		waitFor(t, waitLong, g.name+" sees n3 dead", hasState(g, "n3", MemberDead))
	}
	for _, pair := range [][2]int{{0, 1}, {1, 0}} {
		if m, _ := member(gs[pair[0]], gs[pair[1]].name); m.State != MemberAlive {
			t.Errorf("%s sees %s as %v across a one-way cut, want alive", gs[pair[0]].name, m.Name, m.State)
		}
	}
	// Mute n1 towards everyone: it can hear but no probe of it gets an
	// answer back, so the others declare it dead.
	fts[1].BlockOutbound(gs[2].Addr())
	for _, g := range []*Gossip{gs[0], gs[2]} {
		waitFor(t, waitLong, g.name+" sees muted n1 dead", hasState(g, "n1", MemberDead))
	}
	fts[1].Unblock(gs[0].Addr())
	fts[1].Unblock(gs[2].Addr())
	for _, g := range gs[:3] {
		waitFor(t, waitLong, g.name+" sees 3 alive after healing", func() bool { return countAlive(g) == 3 })
	}
}

// TestFaultTransportStreams checks the stream header and refusal directly.
func TestFaultTransportStreams(t *testing.T) {
	newFT := func() (*FaultTransport, string) {
		nt, err := NewNetTransport("127.0.0.1", 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		ft := NewFaultTransport(nt)
		t.Cleanup(func() { _ = ft.Shutdown() })
		ip, port, err := ft.FinalAdvertiseAddr("", 0)
		if err != nil {
			t.Fatal(err)
		}
		return ft, net.JoinHostPort(ip.String(), strconv.Itoa(port))
	}
	a, aAddr := newFT()
	b, bAddr := newFT()

	b.BlockInbound(aAddr)
	if _, err := b.DialTimeout(aAddr, time.Second); err == nil {
		t.Error("b dialled a blocked address")
	}
	c, err := a.DialTimeout(bAddr, time.Second)
	if err != nil {
		t.Fatalf("a dial: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(waitLong))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("b kept a stream from a blocked address open")
	}
	c.Close()

	b.Unblock(aAddr)
	expectStream := func(dial func() (net.Conn, error)) {
		t.Helper()
		c, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		select {
		case in := <-b.StreamCh():
			defer in.Close()
			got := make([]byte, 5)
			if _, err := io.ReadFull(in, got); err != nil || string(got) != "hello" {
				t.Errorf("b read %q, %v; want hello without header", got, err)
			}
		case <-time.After(waitLong):
			t.Fatal("no stream reached b")
		}
	}
	expectStream(func() (net.Conn, error) { return a.DialTimeout(bAddr, time.Second) })
	// A stream without the header (a plain dialer) passes untouched.
	expectStream(func() (net.Conn, error) { return net.DialTimeout("tcp", bAddr, time.Second) })
}
