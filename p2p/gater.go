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
	// DefaultPerSource is how many pending slots one source address may
	// hold, and DefaultSourceRate/Burst how fast it may take new ones, so
	// that one host cycling fresh keys cannot fill the slots a real joiner
	// needs.
	DefaultPerSource   = 4
	DefaultSourceRate  = rate.Limit(2)
	DefaultSourceBurst = 4
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
	// PerSource is how many pending peers one source IP address may have
	// at once (default 4: a few hosts behind one NAT may join together);
	// SourceRate and SourceBurst bound how fast it gets new ones (default
	// 2/s, burst 4).
	PerSource   int
	SourceRate  rate.Limit
	SourceBurst int
}

// Gater is an allow-list connmgr.ConnectionGater. It admits cluster members,
// peers we were told to dial (AllowOutbound), and a bounded, rate-limited
// number of unknown inbound peers as "pending join handshake" peers. Blocked
// and denied peers (SetDenied) are refused in both directions, members or
// not.
type Gater struct {
	mu      sync.Mutex
	deny    denyHooks
	members map[peer.ID]struct{}
	// protect keeps the connection manager from trimming members'
	// connections (nil until a Host adopts the Gater).
	protect    protector
	outbound   map[peer.ID]struct{}
	blocked    map[peer.ID]struct{}
	pending    map[peer.ID]pendingPeer
	maxPending int
	ttl        time.Duration
	limiter    *rate.Limiter
	// sources rate-limits pending peers by source address.
	sources   map[string]*rate.Limiter
	perSource int
	srcRate   rate.Limit
	srcBurst  int
	now       func() time.Time
}

// pendingPeer is an unknown peer admitted for the join handshake.
type pendingPeer struct {
	expires time.Time
	source  string // its IP address, "" when unknown
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
	if opts.PerSource <= 0 {
		opts.PerSource = DefaultPerSource
	}
	if opts.SourceRate <= 0 {
		opts.SourceRate = DefaultSourceRate
	}
	if opts.SourceBurst <= 0 {
		opts.SourceBurst = DefaultSourceBurst
	}
	return &Gater{
		members:    map[peer.ID]struct{}{},
		outbound:   map[peer.ID]struct{}{},
		blocked:    map[peer.ID]struct{}{},
		pending:    map[peer.ID]pendingPeer{},
		maxPending: opts.MaxPending,
		ttl:        opts.PendingTTL,
		limiter:    rate.NewLimiter(opts.PendingRate, opts.PendingBurst),
		sources:    map[string]*rate.Limiter{},
		perSource:  opts.PerSource,
		srcRate:    opts.SourceRate,
		srcBurst:   opts.SourceBurst,
		now:        time.Now,
	}
}

// protector is the part of libp2p's connection manager the Gater uses:
// members' connections are never trimmed, whatever their number. (The
// manager trims a host with more connections than its high-water mark
// back to its low one; a leader of 1,000 members holds a feed connection
// to each, and trimming them would drop members' state feeds every
// minute.) Only unknown peers — pending joiners — are trimmed.
type protector interface {
	Protect(id peer.ID, tag string)
	Unprotect(id peer.ID, tag string) bool
}

// memberTag is the connection manager's protection tag for members.
const memberTag = "member"

// adopt makes g protect its members' connections through p.
func (g *Gater) adopt(p protector) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.protect = p
	for id := range g.members {
		p.Protect(id, memberTag)
	}
}

// SetMembers replaces the allow-list with ids.
func (g *Gater) SetMembers(ids []peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.members
	g.members = make(map[peer.ID]struct{}, len(ids))
	for _, id := range ids {
		g.members[id] = struct{}{}
		delete(g.pending, id)
		if _, was := old[id]; !was && g.protect != nil {
			g.protect.Protect(id, memberTag)
		}
	}
	if g.protect == nil {
		return
	}
	for id := range old {
		if _, still := g.members[id]; !still {
			g.protect.Unprotect(id, memberTag)
		}
	}
}

// AddMember adds id to the allow-list.
func (g *Gater) AddMember(id peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, was := g.members[id]; !was && g.protect != nil {
		g.protect.Protect(id, memberTag)
	}
	g.members[id] = struct{}{}
	delete(g.pending, id)
}

// RemoveMember removes id from the allow-list.
func (g *Gater) RemoveMember(id peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, was := g.members[id]; was && g.protect != nil {
		g.protect.Unprotect(id, memberTag)
	}
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

// InterceptAddrDial refuses dials to blocked and denied peers.
func (g *Gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, blocked := g.blocked[p]
	return !blocked && !g.deniedLocked(p)
}

// InterceptAccept admits every incoming connection; the peer is not known
// before the security handshake.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured admits members, outbound connections we may dial, and
// unknown inbound peers as pending peers within the pending bounds: the
// total, the overall rate, and each source address's share and rate. A
// denied peer is refused either way, and reported to the refused hook.
func (g *Gater) InterceptSecured(dir network.Direction, p peer.ID, addrs network.ConnMultiaddrs) bool {
	g.mu.Lock()
	if g.deniedLocked(p) {
		refused := g.deny.refused
		g.mu.Unlock()
		if refused != nil {
			refused(p, dir, sourceOf(addrs))
		}
		return false
	}
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
	src := sourceOf(addrs)
	if len(g.pending) >= g.maxPending || !g.sourceAllowsLocked(src, now) || !g.limiter.AllowN(now, 1) {
		return false
	}
	g.pending[p] = pendingPeer{expires: now.Add(g.ttl), source: src}
	return true
}

// sourceAllowsLocked reports whether src may take one more pending slot
// now, and takes one of its rate tokens if so.
func (g *Gater) sourceAllowsLocked(src string, now time.Time) bool {
	if src == "" {
		return true
	}
	held := 0
	for _, pp := range g.pending {
		if pp.source == src {
			held++
		}
	}
	if held >= g.perSource {
		return false
	}
	l, ok := g.sources[src]
	if !ok {
		if len(g.sources) >= 4096 {
			g.sources = map[string]*rate.Limiter{} // bounded memory; forgets old sources
		}
		l = rate.NewLimiter(g.srcRate, g.srcBurst)
		g.sources[src] = l
	}
	return l.AllowN(now, 1)
}

// sourceOf is the IP address a connection comes from, or "".
func sourceOf(addrs network.ConnMultiaddrs) string {
	if addrs == nil {
		return ""
	}
	a := addrs.RemoteMultiaddr()
	if a == nil {
		return ""
	}
	if ip, err := a.ValueForProtocol(ma.P_IP4); err == nil {
		return ip
	}
	if ip, err := a.ValueForProtocol(ma.P_IP6); err == nil {
		return ip
	}
	return ""
}

// InterceptUpgraded refuses connections to blocked and denied peers.
func (g *Gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return g.InterceptAddrDial(c.RemotePeer(), nil), 0
}

func (g *Gater) mayDialLocked(p peer.ID) bool {
	if _, ok := g.blocked[p]; ok {
		return false
	}
	if g.deniedLocked(p) {
		return false
	}
	_, member := g.members[p]
	_, out := g.outbound[p]
	return member || out
}

func (g *Gater) expireLocked(now time.Time) {
	for id, pp := range g.pending {
		if !now.Before(pp.expires) {
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
// protocols: p is a member, not blocked and not denied.
func (g *Gater) admitted(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, blocked := g.blocked[p]
	_, member := g.members[p]
	return member && !blocked && !g.deniedLocked(p)
}

// shouldDrop reports whether the Host must close its connections to p: p is
// blocked or denied, or it is neither a member, nor allowed outbound, nor
// an unexpired pending peer.
func (g *Gater) shouldDrop(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.blocked[p]; ok {
		return true
	}
	if g.deniedLocked(p) {
		return true
	}
	if g.mayDialLocked(p) {
		return false
	}
	g.expireLocked(g.now())
	_, ok := g.pending[p]
	return !ok
}

// sourcePending counts the unexpired pending peers from src.
func (g *Gater) sourcePending(src string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expireLocked(g.now())
	n := 0
	for _, pp := range g.pending {
		if pp.source == src {
			n++
		}
	}
	return n
}
