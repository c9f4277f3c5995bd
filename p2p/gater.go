package p2p

import (
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"
)

// Defaults for GaterOptions.
const (
	DefaultMaxPending   = 16
	DefaultPendingTTL   = 15 * time.Second
	DefaultPendingRate  = rate.Limit(5)
	DefaultPendingBurst = 10
)

// GaterOptions bounds the unknown peers a Gater admits for the join
// handshake. Zero fields take the defaults.
type GaterOptions struct {
	// MaxPending is how many unknown peers may be pending at once (default 16).
	MaxPending int
	// PendingTTL is how long an unknown peer stays admitted (default 15s).
	// The Host closes its connections afterwards unless it became a member.
	PendingTTL time.Duration
	// PendingRate is how many new unknown peers are admitted per second
	// (default 5); use rate.Inf for no rate limit.
	PendingRate rate.Limit
	// PendingBurst is the burst allowed above PendingRate (default 10).
	PendingBurst int
}

// Gater is an allow-list connmgr.ConnectionGater. It admits cluster members,
// peers we were told to dial (AllowOutbound), and a bounded, rate-limited
// number of unknown inbound peers as "pending join handshake" peers. Blocked
// peers are refused in both directions, members or not.
type Gater struct {
	mu         sync.Mutex
	members    map[peer.ID]struct{}
	outbound   map[peer.ID]struct{}
	blocked    map[peer.ID]struct{}
	pending    map[peer.ID]time.Time // peer -> expiry
	maxPending int
	ttl        time.Duration
	limiter    *rate.Limiter
	now        func() time.Time
}

var _ connmgr.ConnectionGater = (*Gater)(nil)

// NewGater returns a Gater with no members.
func NewGater(opts GaterOptions) *Gater {
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.PendingTTL <= 0 {
		opts.PendingTTL = DefaultPendingTTL
	}
	if opts.PendingRate <= 0 {
		opts.PendingRate = DefaultPendingRate
	}
	if opts.PendingBurst <= 0 {
		opts.PendingBurst = DefaultPendingBurst
	}
	return &Gater{
		members:    map[peer.ID]struct{}{},
		outbound:   map[peer.ID]struct{}{},
		blocked:    map[peer.ID]struct{}{},
		pending:    map[peer.ID]time.Time{},
		maxPending: opts.MaxPending,
		ttl:        opts.PendingTTL,
		limiter:    rate.NewLimiter(opts.PendingRate, opts.PendingBurst),
		now:        time.Now,
	}
}

// SetMembers replaces the allow-list with ids.
func (g *Gater) SetMembers(ids []peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.members = make(map[peer.ID]struct{}, len(ids))
	for _, id := range ids {
		g.members[id] = struct{}{}
		delete(g.pending, id)
	}
}

// AddMember adds id to the allow-list.
func (g *Gater) AddMember(id peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.members[id] = struct{}{}
	delete(g.pending, id)
}

// RemoveMember removes id from the allow-list.
func (g *Gater) RemoveMember(id peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.members, id)
}

// IsMember reports whether id is on the allow-list (blocked or not).
func (g *Gater) IsMember(id peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.members[id]
	return ok
}

// AllowOutbound lets us dial id although it is not a member, e.g. the member
// a joiner joins through.
func (g *Gater) AllowOutbound(id peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.outbound[id] = struct{}{}
}

// DisallowOutbound undoes AllowOutbound.
func (g *Gater) DisallowOutbound(id peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.outbound, id)
}

// Block refuses every connection to or from id, even if it is a member.
// Existing connections stay until Host.Disconnect or the Host's sweeper
// closes them.
func (g *Gater) Block(id peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.blocked[id] = struct{}{}
}

// Unblock undoes Block.
func (g *Gater) Unblock(id peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.blocked, id)
}

// IsBlocked reports whether id is blocked.
func (g *Gater) IsBlocked(id peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.blocked[id]
	return ok
}

// BlockedPeers returns the blocked peers, sorted.
func (g *Gater) BlockedPeers() []peer.ID {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := make([]peer.ID, 0, len(g.blocked))
	for id := range g.blocked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// InterceptPeerDial refuses dials to blocked peers and to peers that are
// neither members nor allowed by AllowOutbound.
func (g *Gater) InterceptPeerDial(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.mayDialLocked(p)
}

// InterceptAddrDial refuses dials to blocked peers.
func (g *Gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool {
	return !g.IsBlocked(p)
}

// InterceptAccept admits every incoming connection; the peer is not known
// before the security handshake.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured admits members, outbound connections we may dial, and
// unknown inbound peers as pending peers within the pending bounds.
func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if dir == network.DirOutbound {
		return g.mayDialLocked(p)
	}
	if _, ok := g.blocked[p]; ok {
		return false
	}
	if _, ok := g.members[p]; ok {
		return true
	}
	now := g.now()
	g.expireLocked(now)
	if _, ok := g.pending[p]; ok {
		return true
	}
	if len(g.pending) >= g.maxPending || !g.limiter.AllowN(now, 1) {
		return false
	}
	g.pending[p] = now.Add(g.ttl)
	return true
}

// InterceptUpgraded refuses connections to blocked peers.
func (g *Gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return !g.IsBlocked(c.RemotePeer()), 0
}

func (g *Gater) mayDialLocked(p peer.ID) bool {
	if _, ok := g.blocked[p]; ok {
		return false
	}
	_, member := g.members[p]
	_, out := g.outbound[p]
	return member || out
}

func (g *Gater) expireLocked(now time.Time) {
	for id, exp := range g.pending {
		if !now.Before(exp) {
			delete(g.pending, id)
		}
	}
}

// pendingCount returns the number of unexpired pending peers.
func (g *Gater) pendingCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireLocked(g.now())
	return len(g.pending)
}

// admitted reports whether streams from p may reach members-only
// protocols: p is a member and not blocked.
func (g *Gater) admitted(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, blocked := g.blocked[p]
	_, member := g.members[p]
	return member && !blocked
}

// shouldDrop reports whether the Host must close its connections to p: p is
// blocked, or it is neither a member, nor allowed outbound, nor an
// unexpired pending peer.
func (g *Gater) shouldDrop(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.blocked[p]; ok {
		return true
	}
	if g.mayDialLocked(p) {
		return false
	}
	g.expireLocked(g.now())
	_, ok := g.pending[p]
	return !ok
}
