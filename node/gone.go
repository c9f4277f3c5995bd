package node

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
)

// Gossip declares a member dead only after a suspicion timeout that grows
// with the cluster (SuspicionMult × log10 N × the probe interval: 2 s with
// 100 members at the defaults, 3 s with 1,000, twice that with relaxed
// timings), so that a member slow to answer has time to refute. A member
// whose process died needs no such time: the kernel of its host closes its
// connections, and answers a new one to the member's libp2p port with a
// refusal. So when the leader's last connection to a member closes, it
// connects to that port; refused throughout goneConfirm, the member is
// gone and counts as down at once. Anything else — the port answers, the
// connection times out (a partition, a host that is down: no one
// refuses), the member connects again — leaves the verdict to gossip.
// goneConfirm leaves time for an agent restarted by its supervisor after
// a crash to listen again; an agent stopped with SIGTERM is restarting,
// not down, whatever the probes say (wantStatus).

// lostWindow is how long after its connection closed a member is probed:
// by then gossip has decided.
const lostWindow = 15 * time.Second

// lostConns records when the leader's last connection to each member
// closed.
type lostConns struct {
	mu sync.Mutex
	at map[string]time.Time // by node ID
}

// mark records that the connection to id closed at now.
func (l *lostConns) mark(id string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at == nil {
		l.at = map[string]time.Time{}
	}
	l.at[id] = now
}

// reset forgets every loss (this node stopped leading).
func (l *lostConns) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.at = nil
}

// candidates are the nodes to probe now: their connection closed less
// than lostWindow ago and has not come back. It forgets older losses.
func (l *lostConns) candidates(nodes []*api.Node, connected func(id string) bool, now time.Time) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]string{}
	if len(l.at) == 0 {
		return out
	}
	byID := make(map[string]*api.Node, len(l.at))
	for _, n := range nodes {
		if _, ok := l.at[n.ID]; ok {
			byID[n.ID] = n
		}
	}
	for id, at := range l.at {
		n, ok := byID[id]
		switch {
		case !ok || now.Sub(at) > lostWindow:
			delete(l.at, id)
		case !connected(id):
			out[id] = n.P2PAddr
		}
	}
	return out
}

// connectionLost records, on the leader, that its last connection to a
// member closed, and wakes the liveness loop to probe the member's port.
func (a *Agent) connectionLost(id peer.ID) {
	if a.leaderID() != a.ID() {
		return
	}
	a.lost.mark(id.String(), time.Now())
	a.membershipChanged.Fire()
}

// connectedTo reports whether this node has a libp2p connection to the
// node with ID id.
func (a *Agent) connectedTo(id string) bool {
	pid, err := peer.Decode(id)
	return err == nil && a.host.Connected(pid)
}

// goneConfirm is how long the port of a member whose connection closed
// must refuse connections before the member counts as gone.
const goneConfirm = time.Second

// goneDialTimeout bounds one connection attempt.
const goneDialTimeout = 500 * time.Millisecond

// goneProber probes the libp2p ports of members whose connection closed.
type goneProber struct {
	// dial connects to addr and closes the connection; a refusal is an
	// error that errors.Is syscall.ECONNREFUSED.
	dial    func(ctx context.Context, addr string) error
	confirm time.Duration
	// changed is fired when a member is found gone.
	changed *signal
	log     *slog.Logger
	now     func() time.Time

	mu     sync.Mutex
	probes map[string]*goneProbe // by node ID
}

type goneProbe struct {
	addr   string
	cancel context.CancelFunc
	gone   bool
}

func newGoneProber(changed *signal, log *slog.Logger) *goneProber {
	return &goneProber{dial: dialAndClose, confirm: goneConfirm, changed: changed, log: log, now: time.Now, probes: map[string]*goneProbe{}}
}

// dialAndClose opens a TCP connection to addr and closes it.
func dialAndClose(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, goneDialTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// track probes the given members (node ID → libp2p address) until ctx
// ends or they are no longer given, and stops probing the others.
func (p *goneProber) track(ctx context.Context, members map[string]string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, pr := range p.probes {
		if addr, ok := members[id]; !ok || addr != pr.addr {
			pr.cancel()
			delete(p.probes, id)
		}
	}
	for id, addr := range members {
		if _, ok := p.probes[id]; ok || addr == "" {
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		pr := &goneProbe{addr: addr, cancel: cancel}
		p.probes[id] = pr
		go p.probe(pctx, id, pr)
	}
}

// probe connects to pr.addr every half of confirm until the port has
// refused for confirm, or ctx ends.
func (p *goneProber) probe(ctx context.Context, id string, pr *goneProbe) {
	var refusedSince time.Time
	for ctx.Err() == nil {
		err := p.dial(ctx, pr.addr)
		now := p.now()
		switch {
		case !errors.Is(err, syscall.ECONNREFUSED):
			refusedSince = time.Time{}
		case refusedSince.IsZero():
			refusedSince = now
		case now.Sub(refusedSince) >= p.confirm:
			p.mu.Lock()
			current := p.probes[id] == pr
			if current {
				pr.gone = true
			}
			p.mu.Unlock()
			if current && ctx.Err() == nil {
				p.log.Info("node gone: its connection closed and its libp2p port refused connections", "node_id", api.ShortID(id), "addr", pr.addr, "for", p.confirm)
				p.changed.Fire()
			}
			return
		}
		if ctxutil.Sleep(ctx, p.confirm/2) != nil {
			return
		}
	}
}

// gone returns the members found gone among those still tracked.
func (p *goneProber) gone() map[string]bool {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]bool{}
	for id, pr := range p.probes {
		if pr.gone {
			out[id] = true
		}
	}
	return out
}

// stop ends every probe and forgets every verdict.
func (p *goneProber) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, pr := range p.probes {
		pr.cancel()
		delete(p.probes, id)
	}
}
