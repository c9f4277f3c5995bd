package node

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
	"github.com/shoal-project/shoal/state"
)

// restoreProtocol carries a snapshot restore from the node an operator
// called to the leader, which alone may run it. A restore file can be far
// larger than an RPC frame, so it has its own stream.
const restoreProtocol = "/shoal/restore/1"

// maxRestoreFrame bounds a forwarded restore (the file travels base64 in
// JSON).
const maxRestoreFrame = 2*state.MaxBackupSize + 4<<10

// restoreTimeout bounds a restore, including its replication to every
// voter.
const restoreTimeout = 2 * time.Minute

type restoreRequest struct {
	File         []byte `json:"file"`
	AllowForeign bool   `json:"allow_foreign,omitempty"`
	// APIToken is the caller's API token, checked by the leader as for a
	// forwarded write (authorizeUserWrite); "" from a voter's socket.
	APIToken string `json:"api_token,omitempty"`
}

type restoreReply struct {
	Result api.RestoreResult `json:"result"`
	Error  *api.Error        `json:"error,omitempty"`
}

// saveBackup returns a backup file of the cluster state as the leader
// confirmed it when the call came in: a consistent read (the leader
// verifies its leadership with a quorum and hands out its commit index;
// this node waits until its own replica has applied that far) followed by
// a copy of the local replica, which is then at least that new. Any node,
// plain members included, can serve it without shipping the state from
// the leader.
func (a *Agent) saveBackup(ctx context.Context) ([]byte, error) {
	if err := a.consistentRead(ctx); err != nil {
		return nil, err
	}
	b, _, err := a.store().EncodeBackup(a.term(), time.Now())
	if err != nil {
		return nil, api.Errorf(api.CodeUnavailable, "snapshot: %v", err)
	}
	return b, nil
}

// restoreBackup verifies file completely, then has the leader restore it
// and waits until this node's replica holds the result. Nothing changes
// unless the file is a valid snapshot (of this cluster, unless
// allowForeign).
func (a *Agent) restoreBackup(ctx context.Context, file []byte, allowForeign bool) (api.RestoreResult, error) {
	b, err := a.checkBackup(file, allowForeign)
	if err != nil {
		return api.RestoreResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	var res api.RestoreResult
	if a.cons.IsLeader() {
		res, err = a.cons.RestoreBackup(b, time.Now())
	} else {
		req := restoreRequest{File: file, AllowForeign: allowForeign}
		if c, ok := callerOf(ctx); ok {
			req.APIToken = c.Secret
		}
		res, err = a.forwardRestore(ctx, req)
	}
	if err != nil {
		return res, err
	}
	a.log.Info("restored a snapshot", "cluster", res.BackupClusterID, "snapshot_index", res.BackupIndex, "index", res.Index,
		"services", res.Services, "tasks", res.Tasks, "orphaned", res.Orphaned)
	a.waitApplied(ctx, res.Index)
	return res, nil
}

// checkBackup decodes and verifies a snapshot file for this cluster.
func (a *Agent) checkBackup(file []byte, allowForeign bool) (*state.Backup, error) {
	b, err := state.DecodeBackup(file)
	if err != nil {
		return nil, api.Errorf(api.CodeInvalid, "snapshot refused: %v", err)
	}
	if b.Header.ClusterID != a.state.ClusterID && !allowForeign {
		return nil, api.Errorf(api.CodeConflict, "snapshot refused: it is of cluster %s, this is cluster %s (to move its services here, allow a foreign snapshot)", b.Header.ClusterID, a.state.ClusterID)
	}
	return b, nil
}

// forwardRestore sends a restore to the leader.
func (a *Agent) forwardRestore(ctx context.Context, req restoreRequest) (api.RestoreResult, error) {
	leader := a.leaderID()
	id, err := peer.Decode(leader)
	if leader == "" || err != nil {
		return api.RestoreResult{}, api.Errorf(api.CodeNoLeader, "no leader is known; a restore needs one")
	}
	c, err := a.host.Dial(ctx, id, restoreProtocol)
	if err != nil {
		return api.RestoreResult{}, api.Errorf(api.CodeUnavailable, "cannot reach the leader for a restore: %v", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	var reply restoreReply
	if err := p2p.WriteFrame(c, req); err != nil {
		return api.RestoreResult{}, api.Errorf(api.CodeUnavailable, "sending the restore to the leader: %v", err)
	}
	if err := p2p.ReadFrame(c, &reply, 1<<20); err != nil {
		return api.RestoreResult{}, api.Errorf(api.CodeUnavailable, "restore outcome unknown: the leader did not answer: %v", err)
	}
	if reply.Error != nil {
		return api.RestoreResult{}, reply.Error
	}
	return reply.Result, nil
}

// serveRestore runs a restore forwarded by another node, if this node
// leads. It verifies the file again: it trusts no other node's check.
func (a *Agent) serveRestore(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(restoreTimeout))
	var req restoreRequest
	if err := p2p.ReadFrame(c, &req, maxRestoreFrame); err != nil {
		p2p.WriteFrame(c, restoreReply{Error: api.Errorf(api.CodeInvalid, "bad restore request: %v", err)})
		return
	}
	var reply restoreReply
	from := c.RemoteAddr().String()
	err := authorizeUserWrite(proposal{From: from, FromVoter: a.isVoter(from), APIToken: req.APIToken,
		Cmd: api.Command{Type: "snapshot.restore"}, Now: time.Now()}, api.ACLAdmin, a.store().View())
	var b *state.Backup
	if err == nil {
		b, err = a.checkBackup(req.File, req.AllowForeign)
	}
	if err == nil {
		if !a.cons.IsLeader() {
			err = api.Errorf(api.CodeNoLeader, "not the leader")
		} else {
			reply.Result, err = a.cons.RestoreBackup(b, time.Now())
		}
	}
	if err != nil {
		reply.Error = asAPIError(err)
	}
	p2p.WriteFrame(c, reply)
}

// asAPIError keeps a typed error's code across the wire.
func asAPIError(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	return api.Errorf(api.CodeInternal, "%v", err)
}
