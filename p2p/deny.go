package p2p

import (
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// A denied peer is one removed from the cluster for good: the Gater
// refuses it in both directions, whatever the allow-list says, and the
// Host closes what is open to it. The deny list itself lives elsewhere (the
// replicated state); the Gater only asks.

// denyHooks is how a Gater learns which peers are denied, and whom to
// tell when it refuses one.
type denyHooks struct {
	denied  func(peer.ID) bool
	refused func(id peer.ID, dir network.Direction, from string)
}

// SetDenied makes the Gater refuse every peer denied reports, members
// included, in both directions. refused (may be nil) hears of each
// connection refused for that reason, with the remote IP address ("" when
// unknown). Both run on libp2p's connection
// paths, denied with the Gater's lock held: they must be quick, and denied
// must not call the Gater.
func (g *Gater) SetDenied(denied func(peer.ID) bool, refused func(id peer.ID, dir network.Direction, from string)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.deny = denyHooks{denied: denied, refused: refused}
}

// IsDenied reports whether p is denied.
func (g *Gater) IsDenied(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.deniedLocked(p)
}

func (g *Gater) deniedLocked(p peer.ID) bool {
	return g.deny.denied != nil && g.deny.denied(p)
}

// CloseDenied closes every open connection to a denied peer, without
// waiting for the sweeper; call it when the deny list grows.
func (h *Host) CloseDenied() []peer.ID {
	var closed []peer.ID
	for _, p := range h.h.Network().Peers() {
		if h.gater.IsDenied(p) {
			_ = h.h.Network().ClosePeer(p)
			closed = append(closed, p)
		}
	}
	return closed
}
