package raft

import (
	"sync"
	"time"

	hraft "github.com/hashicorp/raft"
)

// leaderView remembers which leader this server last heard of, and in
// which term. hashicorp/raft keeps a follower's leader field across a term
// change (a follower that grants a vote in a newer term still names the
// old leader until the new one contacts it), so the pair is tracked here to
// report a leader only for the term it was heard in.
type leaderView struct {
	mu   sync.Mutex
	id   string
	term uint64
	// last is the last non-empty leader heard of, for Stats.LeaderChanges.
	last string
}

// leaderEvent is a leader this server saw, for FSM.RecordLeader.
type leaderEvent struct {
	id   string
	term uint64
	at   time.Time
}

// TrackLeader starts recording leader changes for LeaderTerm. Call it
// right after Open; calling it again does nothing.
func (c *Consensus) TrackLeader() { c.trackOnce.Do(c.trackLeader) }

func (c *Consensus) trackLeader() {
	ch := make(chan hraft.Observation, 64)
	c.raft.RegisterObserver(hraft.NewObserver(ch, false, func(o *hraft.Observation) bool {
		_, ok := o.Data.(hraft.LeaderObservation)
		return ok
	}))
	// RecordLeader waits for the apply lock (a snapshot restore may hold
	// it), so events are recorded on their own goroutine, in order.
	elected := make(chan leaderEvent, 16)
	go func() {
		for {
			select {
			case <-c.stop:
				return
			case e := <-elected:
				c.fsm.RecordLeader(e.id, e.term, e.at)
			}
		}
	}()
	go func() {
		for {
			select {
			case <-c.stop:
				return
			case o := <-ch:
				lo := o.Data.(hraft.LeaderObservation)
				c.leaderSeen.mu.Lock()
				prevID, prevTerm := c.leaderSeen.id, c.leaderSeen.term
				if lo.LeaderID != "" && string(lo.LeaderID) != c.leaderSeen.last {
					c.leaderSeen.last = string(lo.LeaderID)
					c.leaderChanges.Add(1)
				}
				c.leaderSeen.id, c.leaderSeen.term = string(lo.LeaderID), c.raft.CurrentTerm()
				id, term := c.leaderSeen.id, c.leaderSeen.term
				c.leaderSeen.mu.Unlock()
				if id != "" && (id != prevID || term != prevTerm) {
					select {
					case elected <- leaderEvent{id, term, time.Now()}:
					default: // local and best effort: never hold up tracking
					}
				}
			}
		}
	}()
}

// LeaderTerm returns the leader of the current term as this server knows
// it, and the term. The leader is "" while this server has not heard from
// the current term's leader (or there is none).
func (c *Consensus) LeaderTerm() (string, uint64) {
	for i := 0; i < 3; i++ {
		t1 := c.raft.CurrentTerm()
		if c.IsLeader() {
			if c.raft.CurrentTerm() == t1 && c.IsLeader() {
				return c.localID, t1
			}
			continue
		}
		c.leaderSeen.mu.Lock()
		id, seen := c.leaderSeen.id, c.leaderSeen.term
		c.leaderSeen.mu.Unlock()
		leader, _ := c.raft.LeaderWithID()
		if c.raft.CurrentTerm() != t1 {
			continue
		}
		if seen != t1 || string(leader) != id {
			return "", t1
		}
		return id, t1
	}
	return "", c.raft.CurrentTerm()
}
