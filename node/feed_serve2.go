package node

import (
	"bufio"
	"net"
	"sync"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/state"
)

// serveFeed2 streams applied entries to one member in feed/2 frames while
// this node leads and the member is not denied.
func (a *Agent) serveFeed2(c net.Conn) {
	defer c.Close()
	req, ok := readFeedRequest(c)
	if !ok {
		return
	}
	member := c.RemoteAddr().String() // the member's peer ID
	w := bufio.NewWriterSize(c, 64<<10)
	fsm := a.cons.FSM()
	a.feedFollowers.Add(1)
	defer a.feedFollowers.Add(-1)
	wake, stopWake := a.feedWake.watch(member)
	defer stopWake()
	var lastWrite time.Time
	next := req.From + 1
	fail := func(err error) {
		a.log.Warn("state feed: write failed", "member", member, "err", err)
	}
	write := func(h feedHeader, entries []state.Entry, chunk []byte) bool {
		lastWrite = time.Now()
		c.SetWriteDeadline(lastWrite.Add(10 * time.Second))
		err := writeFeedFrame(w, h, entries, chunk)
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			fail(err)
			return false
		}
		return true
	}
	for a.ctx.Err() == nil && !a.feedDenied(member) {
		// The leader and its term are read together: a deposed leader must
		// not stamp its successor's term on its own name.
		leader, term := a.cons.LeaderTerm()
		h := feedHeader{LeaderID: leader, Term: term, Codec: feedCodec}
		if leader != a.ID() {
			h.Error = api.Errorf(api.CodeNoLeader, "not the leader")
			write(h, nil, nil)
			return
		}
		changed := fsm.EntriesChanged()
		drain(wake) // what it woke for is read now
		entries, ok := fsm.EntriesSince(next)
		if !ok {
			snap, index, err := a.feedSnapshot(true)
			if err != nil {
				a.log.Warn("state feed: snapshot failed", "err", err)
				return
			}
			for off := 0; off < len(snap) || off == 0; off += feedFrameBytes {
				end := min(off+feedFrameBytes, len(snap))
				h.Snapshot = &snapshotChunk{Index: index, Offset: int64(off), Total: int64(len(snap))}
				if !write(h, nil, snap[off:end]) {
					return
				}
				if end == len(snap) {
					break
				}
			}
			h.Snapshot = nil
			next = index + 1
			continue
		}
		more := false
		if cut := cutEntries(entries, 4*feedFrameBytes); len(cut) < len(entries) {
			entries, more = cut, true
		}
		packed := a.feedPacked.pack(entries)
		if cut := cutEntries(packed, feedFrameBytes); len(cut) < len(packed) {
			packed, more = cut, true
		}
		if n := len(packed); n > 0 {
			next = packed[n-1].Index + 1
		}
		if !write(h, packed, nil) {
			return
		}
		if more {
			continue
		}
		if !a.awaitFeed(changed, wake, lastWrite, feedGap(a.feedFollowers.Load())) {
			return
		}
	}
}

// feedGapPerFollower and maxFeedGap set feedGap; feedUrgentShare sets
// how much sooner a member's own changes go out.
const (
	feedGapPerFollower = time.Millisecond
	maxFeedGap         = time.Second
	feedUrgentShare    = 4
)

// feedGap is the least time between two frames to one member when this
// node serves n feeds: the entries committed in between go in one frame.
// Each frame costs the leader a write (encryption and a system call) per
// member, and commits come faster as the cluster grows, so without a gap
// the leader's work grows with members × commits (with 400 members
// joining, 57% of its CPU was feed writes). With it, it grows with the
// members alone: at most 1,000 frames a second up to 1,000 members. A
// member sees other nodes' changes up to the gap later: 3 ms with 3
// members, 100 ms with 100, 1 s with 1,000 or more; and its own (see
// feedWaker) within a quarter of that.
func feedGap(n int64) time.Duration {
	return min(time.Duration(n)*feedGapPerFollower, maxFeedGap)
}

// awaitFeed waits for the next applied entry, or for the heartbeat that
// tells a member the term and that this node still leads. After an entry
// it waits until gap has passed since the last frame (last), so that later
// entries join it; or, once wake says an entry concerns the member, until
// a quarter of gap has. It reports false once the agent stops.
func (a *Agent) awaitFeed(changed, wake <-chan struct{}, last time.Time, gap time.Duration) bool {
	heartbeat := time.NewTimer(time.Second)
	defer heartbeat.Stop()
	select {
	case <-a.ctx.Done():
		return false
	case <-changed:
	case <-heartbeat.C:
		return true
	}
	wait := time.Until(last.Add(gap))
	if wait <= 0 {
		return true
	}
	paced := time.NewTimer(wait)
	defer paced.Stop()
	select {
	case <-a.ctx.Done():
		return false
	case <-paced.C:
		return true
	case <-wake:
		return ctxutil.Sleep(a.ctx, time.Until(last.Add(gap/feedUrgentShare))) == nil
	}
}

// drain empties a wake channel.
func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// feedSnapshotReuse is how long a snapshot image made for one member is
// handed to others that fall behind too, instead of making another.
const feedSnapshotReuse = 2 * time.Second

// snapshotCache keeps the last snapshot image the feed made, and its
// compressed form once a member asked for it.
type snapshotCache struct {
	mu     sync.Mutex
	image  []byte
	packed []byte
	index  uint64
	at     time.Time
}

// feedSnapshot returns a recent image of the store (compressed with
// packed) and its index: members that fall behind together share one. A
// member that gets an older image catches up from the entry window, or
// gets a newer image if the window no longer reaches back.
func (a *Agent) feedSnapshot(packed bool) ([]byte, uint64, error) {
	sc := &a.feedSnap
	sc.mu.Lock()
	defer sc.mu.Unlock()
	fresh := false
	if sc.image != nil && time.Since(sc.at) < feedSnapshotReuse {
		_, fresh = a.cons.FSM().EntriesSince(sc.index + 1)
	}
	if !fresh {
		img, index, err := a.store().SnapshotJSON()
		if err != nil {
			return nil, 0, err
		}
		sc.image, sc.packed, sc.index, sc.at = img, nil, index, time.Now()
	}
	if !packed {
		return sc.image, sc.index, nil
	}
	if sc.packed == nil {
		sc.packed = packImage(sc.image)
	}
	return sc.packed, sc.index, nil
}
