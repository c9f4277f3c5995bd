package gossip

import (
	"bytes"
	"fmt"
)

// SetKeys makes the keyring hold exactly primary (which encrypts) and
// others (accepted too), as a key rotation steps through: add the new key,
// switch to it, drop the old one. Empty keys in others are ignored.
func (g *Gossip) SetKeys(primary []byte, others ...[]byte) error {
	if g.keyring == nil {
		return fmt.Errorf("gossip: no keyring (gossip is not encrypted)")
	}
	want := [][]byte{primary}
	for _, k := range others {
		if len(k) > 0 {
			want = append(want, k)
		}
	}
	for _, k := range want {
		if err := g.keyring.AddKey(k); err != nil {
			return fmt.Errorf("gossip: install key: %w", err)
		}
	}
	if err := g.keyring.UseKey(primary); err != nil {
		return fmt.Errorf("gossip: use key: %w", err)
	}
	for _, have := range g.keyring.GetKeys() {
		keep := false
		for _, k := range want {
			keep = keep || bytes.Equal(have, k)
		}
		if !keep {
			if err := g.keyring.RemoveKey(have); err != nil {
				return fmt.Errorf("gossip: remove key: %w", err)
			}
		}
	}
	return nil
}

// Keys returns the keyring's keys, the primary first.
func (g *Gossip) Keys() [][]byte {
	if g.keyring == nil {
		return nil
	}
	return g.keyring.GetKeys()
}
