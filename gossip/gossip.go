package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/shoal-project/shoal/internal/textutil"
)

// EventBuffer is the capacity of the Events channel.
const EventBuffer = 1024

// updateTimeout bounds how long UpdateMeta waits for its broadcast to go out.
const updateTimeout = 5 * time.Second

// Gossip is one running member of the gossip cluster.
type Gossip struct {
	ml        *memberlist.Memberlist
	keyring   *memberlist.Keyring // the keys gossip is encrypted with (SetKeys)
	name      string
	clusterID string
	denied    func(nodeID string) bool
	logger    *slog.Logger
	deadTTL   time.Duration // how long dead and left members stay listed

	metaMu    sync.Mutex
	metaBytes []byte

	mu      sync.Mutex
	members map[string]*entry
	leaving map[string]time.Time // leave intents not yet matched by memberlist
	failed  map[string]failure   // failed members to reconnect to
	renamed map[string]failure   // new addresses of names held by an old entry

	stop chan struct{} // closed by Shutdown; stops reconnectLoop

	evMu    sync.Mutex
	events  chan Event
	closed  bool
	dropped atomic.Uint64

	// Alive-message verdicts, so Join can tell a peer of another cluster
	// (push/pull succeeds, every member refused) from a real join.
	aliveOK      atomic.Uint64
	aliveRefused atomic.Uint64
	refusal      atomic.Value // string: the latest refusal reason

	lifeMu   sync.Mutex  // serialises Leave and Shutdown
	shutdown atomic.Bool // set under lifeMu
}

// failure is where a failed member was, and since when.
type failure struct {
	addr  string
	since time.Time
}

// entry is a member as this node keeps it (Member.Since is the time of
// its last state change).
type entry struct {
	Member
}

// Start validates cfg, listens, and starts gossiping as a cluster of one;
// call Join to meet other members.
func Start(cfg Config) (*Gossip, error) {
	if err := cfg.validate(); err != nil {
		if cfg.Transport != nil {
			_ = cfg.Transport.Shutdown()
		}
		return nil, err
	}
	metaBytes, _ := cfg.Meta.Encode() // validated above
	g := &Gossip{
		name:      cfg.Name,
		clusterID: cfg.Meta.ClusterID,
		denied:    cfg.Denied,
		logger:    cfg.Logger,
		deadTTL:   cfg.Timings.PushPullInterval,
		metaBytes: metaBytes,
		members:   make(map[string]*entry),
		leaving:   make(map[string]time.Time),
		failed:    make(map[string]failure),
		renamed:   make(map[string]failure),
		stop:      make(chan struct{}),
		events:    make(chan Event, EventBuffer),
	}

	transport := cfg.Transport
	if transport == nil {
		nt, err := NewNetTransport(cfg.BindIP, cfg.Port, cfg.Logger)
		if err != nil {
			return nil, err
		}
		transport = nt
	}
	port := cfg.Port
	if p, ok := transport.(interface{ GetAutoBindPort() int }); ok {
		port = p.GetAutoBindPort()
	}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr, mc.BindPort = cfg.BindIP, port
	mc.AdvertiseAddr, mc.AdvertisePort = cfg.AdvertiseIP, port
	mc.Transport = transport
	mc.SecretKey = append([]byte(nil), cfg.SecretKey...)
	mc.Label = cfg.Label
	mc.EnableCompression = !cfg.DisableCompression
	mc.Logger = stdLogger(cfg.Logger)
	mc.Delegate, mc.Events, mc.Alive, mc.Conflict, mc.Merge = delegate{g}, delegate{g}, delegate{g}, delegate{g}, delegate{g}
	cfg.Timings.apply(mc)

	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = transport.Shutdown()
		return nil, fmt.Errorf("gossip: start %s: %w", cfg.Name, err)
	}
	g.ml, g.keyring = ml, mc.Keyring
	if !cfg.NoReconnect {
		go g.reconnectLoop(cfg.Timings.ProbeInterval)
	}
	return g, nil
}

// Join contacts the given "ip:port" gossip addresses and merges state with
// each one that answers. It returns how many answered; the error, set only
// when none did, names every address that failed and why.
func (g *Gossip) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, errors.New("gossip: join: no addresses given")
	}
	if g.isShutdown() {
		return 0, errors.New("gossip: join after shutdown")
	}
	joined := 0
	var fails []string
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			fails = append(fails, fmt.Sprintf("%q is not ip:port", a))
			continue
		}
		ok, refused := g.aliveOK.Load(), g.aliveRefused.Load()
		n, err := g.ml.Join([]string{a})
		if n > 0 && g.aliveOK.Load() == ok && g.aliveRefused.Load() > refused {
			reason, _ := g.refusal.Load().(string)
			fails = append(fails, fmt.Sprintf("%s: refused its members: %s", a, reason))
			continue
		}
		joined += n
		if n == 0 {
			fails = append(fails, joinHint(oneLine(err)))
		}
	}
	if joined == 0 {
		return 0, fmt.Errorf("gossip: join failed for all %d addresses: %s", len(addrs), strings.Join(fails, "; "))
	}
	return joined, nil
}

// joinHint explains the bare EOF memberlist reports when the peer drops
// the connection, which is what a peer with another Label does.
func joinHint(msg string) string {
	if strings.HasSuffix(msg, ": EOF") {
		return msg + " (peer closed the connection: different cluster Label or SecretKey?)"
	}
	return msg
}

// oneLine flattens memberlist's multi-line multierror into one line.
func oneLine(err error) string {
	if err == nil {
		return "no answer"
	}
	if m, ok := err.(interface{ WrappedErrors() []error }); ok {
		var parts []string
		for _, e := range m.WrappedErrors() {
			parts = append(parts, oneLine(e))
		}
		return strings.Join(parts, "; ")
	}
	return textutil.OneLine(err.Error())
}

// Events returns the membership changes of remote members. It is never
// closed before Shutdown; when the consumer falls more than EventBuffer
// events behind, the oldest are dropped (see DroppedEvents) and Members
// gives the current truth.
func (g *Gossip) Events() <-chan Event { return g.events }

// DroppedEvents counts the events dropped because the channel was full.
func (g *Gossip) DroppedEvents() uint64 { return g.dropped.Load() }

// Members returns every member this node knows, itself included, sorted
// by name. Dead and left members stay listed for Timings.PushPullInterval
// after their last change, as long as memberlist itself remembers them.
// Denied members are never listed, even one memberlist still holds alive
// from before it was denied.
func (g *Gossip) Members() []Member {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.members))
	for name, e := range g.members {
		if name != g.name && e.State != MemberAlive && now.Sub(e.Since) > g.deadTTL {
			delete(g.members, name)
			continue
		}
		if name != g.name && g.isDenied(e.Meta.NodeID) {
			continue
		}
		out = append(out, e.Member)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LocalMember returns this node as the cluster sees it.
func (g *Gossip) LocalMember() Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.members[g.name]; e != nil {
		return e.Member
	}
	return Member{Name: g.name} // unreachable: memberlist announces us in Create
}

// Addr returns this node's advertised gossip "ip:port" (port 0 resolved).
func (g *Gossip) Addr() string { return g.LocalMember().Addr }

// UpdateMeta replaces this node's Meta and gossips it. The ClusterID
// cannot change.
func (g *Gossip) UpdateMeta(m Meta) error {
	if m.ClusterID != g.clusterID {
		return fmt.Errorf("gossip: UpdateMeta cannot change ClusterID from %q to %q", g.clusterID, m.ClusterID)
	}
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if g.isShutdown() {
		return errors.New("gossip: update meta after shutdown")
	}
	g.metaMu.Lock()
	g.metaBytes = b
	g.metaMu.Unlock()
	if err := g.ml.UpdateNode(updateTimeout); err != nil {
		return fmt.Errorf("gossip: update meta: %w", err)
	}
	return nil
}

// NumAlive returns how many members, this node included, are not known
// to be dead or left.
func (g *Gossip) NumAlive() int { return g.ml.NumMembers() }

// Leave tells the other members that this node leaves gracefully (they
// see EventLeave, not EventDead) and waits up to timeout for the news to
// go out. The node keeps answering probes until Shutdown.
func (g *Gossip) Leave(timeout time.Duration) error {
	if timeout <= 0 {
		return fmt.Errorf("gossip: leave timeout %v must be positive", timeout)
	}
	g.lifeMu.Lock()
	defer g.lifeMu.Unlock()
	if g.shutdown.Load() {
		return errors.New("gossip: leave after shutdown")
	}
	deadline := time.Now().Add(timeout)
	g.sendLeaveIntents(timeout / 2)
	if err := g.ml.Leave(time.Until(deadline)); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

func (g *Gossip) isShutdown() bool { return g.shutdown.Load() }

// Shutdown stops gossiping and closes the transport and the Events
// channel. Without a prior Leave the others see this node as failed.
// It is safe to call more than once.
func (g *Gossip) Shutdown() error {
	g.lifeMu.Lock()
	defer g.lifeMu.Unlock()
	if g.shutdown.Load() {
		return nil
	}
	g.shutdown.Store(true)
	close(g.stop)
	err := g.ml.Shutdown()
	g.evMu.Lock()
	g.closed = true
	close(g.events)
	g.evMu.Unlock()
	if err != nil {
		return fmt.Errorf("gossip: shutdown: %w", err)
	}
	return nil
}
