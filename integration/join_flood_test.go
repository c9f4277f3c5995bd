package integration

import (
	"context"
	"crypto/rand"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
)

// TestJoinDuringHandshakeFlood reproduces the blocked-join finding: a
// tokenless source (127.0.0.2) opens libp2p connections with fresh keys,
// 20 a second, each held for 10 s — more than the gater's unknown-peer
// slots hold. A valid join from another source (127.0.0.1) still gets in,
// and the test reports how long it took. (With the flood on the joiner's
// own source address the join does not get in within 30 s: the fairness
// is per source.)
func TestJoinDuringHandshakeFlood(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	var n1 api.NodeInfo
	if err := c.agents[0].get("/v1/nodes/n1", &n1); err != nil {
		t.Fatal(err)
	}
	target, err := peer.Decode(n1.ID)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := ma.NewMultiaddr("/ip4/127.0.0.1/tcp/" + strconv.Itoa(c.agents[0].P2PPort))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var attempts atomic.Int64
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Go(func() {
				key, _, _ := crypto.GenerateEd25519Key(rand.Reader)
				h, err := p2p.NewHost(p2p.Config{Key: key, ListenIP: "127.0.0.2"})
				if err != nil {
					return
				}
				defer h.Close()
				h.Gater().AllowOutbound(target)
				attempts.Add(1)
				cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
				defer ccancel()
				h.LibP2P().Connect(cctx, peer.AddrInfo{ID: target, Addrs: []ma.Multiaddr{addr}})
				select { // hold the slot
				case <-ctx.Done():
				case <-time.After(10 * time.Second):
				}
			})
		}
	})
	defer func() { cancel(); wg.Wait() }()
	// Let the flood fill the slots first.
	deadline := time.Now().Add(10 * time.Second)
	for attempts.Load() < 40 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	n2 := newAgent(t, "n2", "--runtime", "process")
	n2.Env = append(n2.Env, "SHOAL_JOIN_TOKEN="+c.token)
	n2.Start("--join", c.agents[0].P2PAddr())
	c.agents = append(c.agents, n2)
	c.waitMembers(2)
	t.Logf("valid join took %s during a flood of %d tokenless connections",
		time.Since(start).Round(time.Millisecond), attempts.Load())
	if attempts.Load() < 40 {
		t.Fatalf("the flood made only %d attempts", attempts.Load())
	}
}
