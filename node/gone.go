package node

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
)

// Gossip declares a member dead only after a suspicion timeout that grows
// with the cluster (SuspicionMult × log10 N × the probe interval: 2 s with
// 100 members at the defaults, 3 s with 1,000, twice that with relaxed
// timings), so that a member slow to answer has time to refute. A member
// whose process died needs no such time: its host answers a connection to
// the member's libp2p port with a refusal. So the leader, once gossip
// suspects a member, connects to that port; refused throughout
// goneConfirm, the member is gone and counts as down at once. Anything
// else — the port answers, the connection times out (a partition, a
// host that is down: no one refuses), the suspicion ends — leaves the
// verdict to gossip. goneConfirm leaves time for an agent restarted by its
// supervisor after a crash to listen again; an agent stopped with SIGTERM
// is restarting, not down, whatever the probes say (wantStatus).

// goneConfirm is how long a suspect member's port must refuse
// connections before the member counts as gone.
const goneConfirm = time.Second

// goneDialTimeout bounds one connection attempt.
const goneDialTimeout = 500 * time.Millisecond

// goneProber probes the libp2p ports of suspect members.
type goneProber struct {
	// dial connects to addr and closes the connection; a refusal is an
	// error that errors.Is syscall.ECONNREFUSED.
	dial    func(ctx context.Context, addr string) error
	confirm time.Duration
	// changed is fired when a member is found gone.
	changed *signal
	log     *slog.Logger

	mu     sync.Mutex
	probes map[string]*goneProbe // by node ID
}

type goneProbe struct {
	addr   string
	cancel context.CancelFunc
	gone   bool
}

func newGoneProber(changed *signal, log *slog.Logger) *goneProber {
	return &goneProber{dial: dialAndClose, confirm: goneConfirm, changed: changed, log: log, probes: map[string]*goneProbe{}}
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

// track probes the given suspects (node ID → libp2p address) until ctx
// ends or they are no longer suspect, and stops probing the others.
func (p *goneProber) track(ctx context.Context, suspects map[string]string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, pr := range p.probes {
		if addr, ok := suspects[id]; !ok || addr != pr.addr {
			pr.cancel()
			delete(p.probes, id)
		}
	}
	for id, addr := range suspects {
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
		now := time.Now()
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
				p.log.Info("node gone: gossip suspects it and its libp2p port refused connections", "node_id", api.ShortID(id), "addr", pr.addr, "for", p.confirm)
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
