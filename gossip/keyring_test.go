package gossip

import (
	"bytes"
	"strings"
	"testing"
)

// TestKeyRotation steps a 3-member cluster through install, switch and
// drop: it stays whole at each step, a member with the new key alone can
// join after the switch, and one with the old key alone gets nothing
// after the drop.
func TestKeyRotation(t *testing.T) {
	gs := cluster(t, 3, nil)
	oldKey := testConfig("x").SecretKey
	newKey := bytes.Repeat([]byte{0x5a}, 32)
	alive := 3
	step := func(primary []byte, others ...[]byte) {
		t.Helper()
		for _, g := range gs {
			if err := g.SetKeys(primary, others...); err != nil {
				t.Fatal(err)
			}
		}
		for _, g := range gs {
			waitFor(t, waitLong, g.name+" sees all alive", func() bool { return countAlive(g) == alive })
		}
	}
	step(oldKey, newKey) // install
	step(newKey, oldKey) // switch
	if k := gs[1].Keys(); len(k) != 2 || !bytes.Equal(k[0], newKey) {
		t.Fatalf("keys after switch: %x", k)
	}
	fresh := testConfig("fresh")
	fresh.SecretKey = newKey
	if _, err := start(t, fresh).Join([]string{gs[0].Addr()}); err != nil {
		t.Fatalf("a member with the new key: %v", err)
	}
	alive = 4
	step(newKey) // drop
	stale := testConfig("stale")
	stale.SecretKey = oldKey
	if _, err := start(t, stale).Join([]string{gs[0].Addr()}); err == nil || !strings.Contains(err.Error(), "decrypt") {
		t.Fatalf("a member with the old key only: %v, want a decrypt failure", err)
	}
}
