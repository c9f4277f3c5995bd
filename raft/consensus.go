package raft

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	hraft "github.com/hashicorp/raft"

	"github.com/shoal-project/shoal/state"
)

// Config configures a Consensus.
type Config struct {
	// DataDir holds raft/raft.db (the log and stable store) and
	// raft/snapshots.
	DataDir string
	// LocalID is this node's server ID. Peer IDs double as transport
	// addresses, so it is also the address peers dial.
	LocalID string
	// Transport carries Raft RPCs. The caller owns it and closes it after
	// Shutdown.
	Transport hraft.Transport
	// Timings default field by field to FastTimings.
	Timings Timings
	// Logger defaults to warnings and errors on stderr.
	Logger hclog.Logger
	// Halt is called when a committed entry holds a command this build
	// does not know; it should stop the process (see FSM.SetHalt).
	Halt func(index uint64, err error)
	// ForceNewCluster makes this server the only voter of its cluster
	// before it starts (see forceNewCluster).
	ForceNewCluster bool
	// Observer, if set, receives commit and apply timings.
	Observer Observer
}

// snapshotsRetained is how many snapshots stay on disk.
const snapshotsRetained = 2

// Consensus runs one Raft server whose FSM is a Store.
type Consensus struct {
	raft     *hraft.Raft
	logs     *LogStore
	fsm      *state.FSM
	localID  string
	existing bool

	leaderCh chan bool
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	shutErr  error

	// leaderSeen pairs the last leader heard of with its term.
	leaderSeen leaderView
	trackOnce  sync.Once
	// leaderChanges counts changes to a new known leader.
	leaderChanges atomic.Uint64
	observer      Observer
}

// Open opens (or creates) the Raft state under cfg.DataDir and starts the
// Raft server. A fresh server waits to be bootstrapped or added by a
// leader; one with existing state rejoins its cluster.
func Open(cfg Config) (*Consensus, error) {
	switch {
	case cfg.DataDir == "":
		return nil, errors.New("raft: data dir is empty")
	case cfg.LocalID == "":
		return nil, errors.New("raft: local id is empty")
	case cfg.Transport == nil:
		return nil, errors.New("raft: transport is nil")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn})
	}
	rc := hraft.DefaultConfig()
	rc.LocalID = hraft.ServerID(cfg.LocalID)
	rc.Logger = logger
	rc.BatchApplyCh = true
	if err := cfg.Timings.withDefaults().apply(rc); err != nil {
		return nil, err
	}
	raftDir := filepath.Join(cfg.DataDir, "raft")
	// Builds before raft.db kept the log in raft/wal (raft-wal); there is
	// no migration.
	if _, err := os.Stat(filepath.Join(raftDir, "wal")); err == nil {
		return nil, fmt.Errorf("raft: data dir %s was made by an older shoal build (it has raft/wal); move it away and start with an empty one", cfg.DataDir)
	}
	if err := os.MkdirAll(raftDir, 0o700); err != nil {
		return nil, fmt.Errorf("raft: creating %s: %w", raftDir, err)
	}
	logs, err := OpenLogStore(filepath.Join(raftDir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("raft: %w", err)
	}
	closeLog := func() { logs.Close() }
	snaps, err := hraft.NewFileSnapshotStoreWithLogger(raftDir, snapshotsRetained, logger.Named("snapshots"))
	if err != nil {
		closeLog()
		return nil, fmt.Errorf("raft: opening snapshots: %w", err)
	}
	existing, err := hraft.HasExistingState(logs, logs, snaps)
	if err != nil {
		closeLog()
		return nil, fmt.Errorf("raft: reading existing state: %w", err)
	}
	if cfg.ForceNewCluster {
		if err := forceNewCluster(rc, logs, snaps, cfg, existing); err != nil {
			closeLog()
			return nil, err
		}
	}
	notify := make(chan bool, 1)
	rc.NotifyCh = notify
	fsm := state.NewFSM(state.NewStore())
	fsm.SetHalt(cfg.Halt)
	if cfg.Observer != nil {
		fsm.SetObserver(cfg.Observer)
	}
	r, err := hraft.NewRaft(rc, fsmAdapter{fsm}, logs, logs, snaps, cfg.Transport)
	if err != nil {
		closeLog()
		return nil, fmt.Errorf("raft: starting: %w", err)
	}
	c := &Consensus{
		raft: r, logs: logs, fsm: fsm, localID: cfg.LocalID, existing: existing, observer: cfg.Observer,
		leaderCh: make(chan bool, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go c.forwardLeaderChanges(notify)
	return c, nil
}

// forwardLeaderChanges copies raft's leadership notifications to leaderCh,
// replacing an unread value so the latest one is never lost and raft never
// blocks on a slow reader.
func (c *Consensus) forwardLeaderChanges(notify <-chan bool) {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case v := <-notify:
			select {
			case <-c.leaderCh:
			default:
			}
			c.leaderCh <- v
		}
	}
}

// LeaderChanges delivers true when this server becomes leader and false
// when it stops being leader. It holds only the latest value: a slow
// reader may miss intermediate flips, never the current state.
func (c *Consensus) LeaderChanges() <-chan bool { return c.leaderCh }

// HasExistingState reports whether DataDir held Raft state when Open ran.
func (c *Consensus) HasExistingState() bool { return c.existing }

// BootstrapSelf makes this server a one-voter cluster. It works only on a
// server without existing state.
func (c *Consensus) BootstrapSelf() error {
	cfg := hraft.Configuration{Servers: []hraft.Server{{
		Suffrage: hraft.Voter, ID: hraft.ServerID(c.localID), Address: hraft.ServerAddress(c.localID),
	}}}
	if err := c.raft.BootstrapCluster(cfg).Error(); err != nil {
		if errors.Is(err, hraft.ErrCantBootstrap) {
			return fmt.Errorf("raft: cannot bootstrap: this server already has raft state")
		}
		return fmt.Errorf("raft: bootstrap: %w", err)
	}
	return nil
}

// Store returns the replicated store this server applies to.
func (c *Consensus) Store() *state.Store { return c.fsm.Store() }

// FSMStats returns the FSM's counts of ignored task reports.
func (c *Consensus) FSMStats() state.FSMStats { return c.fsm.Stats() }

// IsLeader reports whether this server is the leader.
func (c *Consensus) IsLeader() bool { return c.raft.State() == hraft.Leader }

// Leader returns the ID of the leader this server knows, or "".
func (c *Consensus) Leader() string {
	_, id := c.raft.LeaderWithID()
	return string(id)
}

// Term returns the current Raft term.
func (c *Consensus) Term() uint64 { return c.raft.CurrentTerm() }

// CommitIndex returns the highest log index known to be committed.
func (c *Consensus) CommitIndex() uint64 { return c.raft.CommitIndex() }

// AppliedIndex returns the index of the last log Raft handed to the FSM
// (it may run a little ahead of the FSM itself, and counts logs the FSM
// never sees). Store().AppliedIndex() is the index the store reflects.
func (c *Consensus) AppliedIndex() uint64 { return c.raft.AppliedIndex() }

// Shutdown stops the Raft server and closes the log. It is safe to call
// more than once; the transport stays open.
func (c *Consensus) Shutdown() error {
	c.once.Do(func() {
		err := c.raft.Shutdown().Error()
		close(c.stop)
		<-c.done
		if cerr := c.logs.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			c.shutErr = fmt.Errorf("raft: shutdown: %w", err)
		}
	})
	return c.shutErr
}
