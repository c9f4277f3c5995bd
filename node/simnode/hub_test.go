package simnode

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/shoal-project/shoal/gossip"
)

func newTestHubTransport(t *testing.T) *hubTransport {
	t.Helper()
	nt, err := gossip.NewNetTransport("127.0.0.1", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return newHubTransport(nt, "127.0.0.1", nt.GetAutoBindPort())
}

// TestHubDeliversBetweenMembersAndFromOutside checks that packets and
// streams between two hub members arrive in memory with the sender's
// address, that a packet from outside the process still arrives, and
// that Shutdown returns while packets keep coming.
func TestHubDeliversBetweenMembersAndFromOutside(t *testing.T) {
	a, b := newTestHubTransport(t), newTestHubTransport(t)
	defer a.Shutdown()

	if _, err := a.WriteToAddress([]byte("ping"), memberlist.Address{Addr: b.self.String()}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-b.PacketCh():
		if string(p.Buf) != "ping" || p.From.String() != a.self.String() {
			t.Fatalf("got %q from %v, want ping from %v", p.Buf, p.From, a.self)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no packet through the hub")
	}

	go func() {
		c, err := a.DialAddressTimeout(memberlist.Address{Addr: b.self.String()}, 5*time.Second)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		c.Write([]byte("state"))
	}()
	select {
	case c := <-b.StreamCh():
		got, _ := io.ReadAll(c)
		if string(got) != "state" {
			t.Fatalf("stream carried %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no stream through the hub")
	}

	out, err := net.Dial("udp", b.self.String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	out.Write([]byte("from outside"))
	select {
	case p := <-b.PacketCh():
		if string(p.Buf) != "from outside" {
			t.Fatalf("got %q", p.Buf)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no packet from outside")
	}

	// Nobody reads b's packets any more; Shutdown must still return.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				out.Write([]byte("flood"))
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- b.Shutdown() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown hung while packets kept arriving")
	}
	// b left the hub: a write to it goes to its closed socket over UDP,
	// and must neither block nor panic.
	a.WriteToAddress([]byte("late"), memberlist.Address{Addr: b.self.String()})
}
