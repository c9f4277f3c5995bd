package raft

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	hraft "github.com/hashicorp/raft"
	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// membershipTimeout bounds the enqueueing of a configuration change.
const membershipTimeout = 10 * time.Second

// Propose commits cmd through Raft and returns the command's value, or its
// *api.Error. Only the leader proposes (others get CodeNoLeader). A zero
// Version or Time is stamped here. When the outcome is unknown (leadership
// lost, ctx ended while waiting) the error is CodeUnavailable: retry with
// the same request ID.
func (c *Consensus) Propose(ctx context.Context, cmd api.Command) (any, error) {
	if !c.IsLeader() {
		return nil, c.noLeader()
	}
	if err := ctx.Err(); err != nil {
		return nil, api.Errorf(api.CodeUnavailable, "%s not proposed: %v", cmd.Type, err)
	}
	if cmd.Version == 0 {
		cmd.Version = api.CommandVersion
	}
	if cmd.Time.IsZero() {
		cmd.Time = time.Now().UTC()
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "command %s cannot be encoded: %v", cmd.Type, err)
	}
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		if timeout = time.Until(dl); timeout <= 0 {
			return nil, api.Errorf(api.CodeUnavailable, "deadline passed before proposing %s", cmd.Type)
		}
	}
	start := time.Now()
	fut := c.raft.Apply(data, timeout)
	if err := wait(ctx, fut); err != nil {
		return nil, c.mapError(err, string(cmd.Type))
	}
	res, ok := fut.Response().(*state.ApplyResult)
	if !ok {
		return nil, api.Errorf(api.CodeInternal, "command %s returned %T, want *ApplyResult", cmd.Type, fut.Response())
	}
	if c.observer != nil {
		c.observer.Committed(time.Since(start))
	}
	if res.Err != nil {
		return nil, res.Err
	}
	return res.Value, nil
}

// wait waits for a raft future or for ctx, whichever ends first.
func wait(ctx context.Context, fut hraft.Future) error {
	done := make(chan error, 1)
	go func() { done <- fut.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return errOutcomeUnknown
	}
}

var errOutcomeUnknown = errors.New("gave up waiting")

// mapError turns a raft error into a typed one.
func (c *Consensus) mapError(err error, what string) error {
	switch {
	case errors.Is(err, hraft.ErrNotLeader), errors.Is(err, hraft.ErrLeadershipTransferInProgress):
		return c.noLeader()
	case errors.Is(err, hraft.ErrLeadershipLost), errors.Is(err, errOutcomeUnknown):
		return api.Errorf(api.CodeUnavailable, "%s: outcome unknown, retry with the same request id (%v)", what, err)
	case errors.Is(err, hraft.ErrEnqueueTimeout):
		return api.Errorf(api.CodeUnavailable, "%s: raft is busy, not applied; retry", what)
	case errors.Is(err, hraft.ErrRaftShutdown):
		return api.Errorf(api.CodeUnavailable, "%s: raft is shut down", what)
	}
	return api.Errorf(api.CodeInternal, "%s: %v", what, err)
}

func (c *Consensus) noLeader() *api.Error {
	if l := c.Leader(); l != "" && l != c.localID {
		return api.Errorf(api.CodeNoLeader, "not the leader; the leader is %s", l)
	}
	return api.Errorf(api.CodeNoLeader, "not the leader; no leader is known")
}

// VerifyLeader confirms with a quorum that this server still leads, then
// waits until every log committed so far is applied (a Barrier), so reads
// after it see every write acknowledged before it.
func (c *Consensus) VerifyLeader(ctx context.Context) error {
	if err := wait(ctx, c.raft.VerifyLeader()); err != nil {
		return c.mapError(err, "verify leader")
	}
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	if err := wait(ctx, c.raft.Barrier(timeout)); err != nil {
		return c.mapError(err, "barrier")
	}
	return nil
}

// TransferLeadership hands leadership to the most up-to-date voter and
// waits for the handover.
func (c *Consensus) TransferLeadership() error {
	if err := c.raft.LeadershipTransfer().Error(); err != nil {
		return c.mapError(err, "transfer leadership")
	}
	return nil
}
