package p2p

import (
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A host hears when its last connection to a peer closes: the peer's
// process went away.
func TestOnDisconnectReportsAPeerThatWentAway(t *testing.T) {
	a, b := newTestHost(t, GaterOptions{}), newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	var mu sync.Mutex
	var lost []peer.ID
	a.OnDisconnect(func(id peer.ID) {
		mu.Lock()
		defer mu.Unlock()
		lost = append(lost, id)
	})
	pingRPC(t, a, openProto, false)
	if err := call(b, a, openProto); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a connected to b", func() bool { return a.Connected(b.ID()) })
	b.Close()
	waitFor(t, 5*time.Second, "a told that b went away", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lost) == 1 && lost[0] == b.ID()
	})
	if a.Connected(b.ID()) {
		t.Fatal("a still connected to b")
	}
}
