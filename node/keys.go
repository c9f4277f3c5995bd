package node

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
)

// Key rotation (`shoal cluster rotate-keys`). The leader commits three
// steps (api.RotateInstall, RotateSwitch, RotateDrop) and, between them,
// waits until every node that is up has applied the last one, so no
// node is ever asked to read gossip in a key it has not installed. Each
// node follows the cluster record (keyLoop): its gossip keyring holds the
// record's keys, and its data dir remembers the current gossip key and
// cluster digest, so that it restarts, and checks join tokens, with them.
// A node that was down during the rotation still reaches the others over
// libp2p (its peer ID is what admits it), catches up, and installs the
// new keys from the record; one removed meanwhile cannot.

// rotateStepWait bounds the wait for every node to apply a step.
const rotateStepWait = 30 * time.Second

// keyLoop keeps this node's gossip keyring and saved keys in step with
// the cluster record.
func (a *Agent) keyLoop(ctx context.Context) {
	var last []byte
	for {
		v := a.store().View()
		changed := v.ClusterChanged()
		if c, ok := v.Cluster(); ok {
			sum := bytes.Join([][]byte{c.GossipKey, c.GossipKeyNext, c.GossipKeyPrev, c.SigningKey}, []byte{0})
			if !bytes.Equal(sum, last) {
				if err := a.applyKeys(c); err != nil {
					a.log.Error("applying the cluster's keys", "err", err)
				} else {
					last = sum
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// applyKeys installs c's gossip keys and saves the current gossip key and
// cluster digest in the data dir.
func (a *Agent) applyKeys(c *api.Cluster) error {
	if len(c.GossipKey) == 0 || len(c.SigningKey) != ed25519.PrivateKeySize {
		return nil
	}
	if err := a.gossip.SetKeys(c.GossipKey, c.GossipKeyNext, c.GossipKeyPrev); err != nil {
		return err
	}
	digest := ClusterDigest(ed25519.PrivateKey(c.SigningKey).Public().(ed25519.PublicKey))
	a.state.mu.Lock()
	same := bytes.Equal(a.state.GossipKey, c.GossipKey) && bytes.Equal(a.state.ClusterDigest, digest[:])
	a.state.GossipKey, a.state.ClusterDigest = append([]byte(nil), c.GossipKey...), digest[:]
	a.state.mu.Unlock()
	if same {
		return nil
	}
	a.log.Info("cluster keys changed: new gossip key and cluster digest saved")
	return a.state.save(a.cfg.DataDir)
}

// rotateKeys runs a whole rotation on the leader, or finishes one that a
// previous leader left half done. It returns the nodes that did not
// confirm a step in time (they catch up when they come back).
func (a *Agent) rotateKeys(ctx context.Context) (api.RotateKeysResult, error) {
	var res api.RotateKeysResult
	if !a.cons.IsLeader() {
		return res, api.Errorf(api.CodeNoLeader, "not the leader")
	}
	c, ok := a.store().Cluster()
	if !ok {
		return res, api.Errorf(api.CodeUnavailable, "the cluster record is not applied yet")
	}
	next := c.GossipKeyNext
	if len(next) == 0 && len(c.GossipKeyPrev) == 0 {
		next = make([]byte, 32)
		rand.Read(next)
		if err := a.rotateStep(ctx, api.RotateKeysPayload{Step: api.RotateInstall, GossipKey: next}, &res); err != nil {
			return res, err
		}
	}
	if len(next) > 0 {
		_, signing, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return res, err
		}
		if err := a.rotateStep(ctx, api.RotateKeysPayload{Step: api.RotateSwitch, GossipKey: next, SigningKey: signing, TokenNonce: nonce()}, &res); err != nil {
			return res, err
		}
	}
	if err := a.rotateStep(ctx, api.RotateKeysPayload{Step: api.RotateDrop}, &res); err != nil {
		return res, err
	}
	c, _ = a.store().Cluster()
	res.Token = tokenFor(c).String()
	return res, nil
}

// rotateStep commits one step and waits until every node that is up has
// applied it (or rotateStepWait passes; the laggards are reported).
func (a *Agent) rotateStep(ctx context.Context, p api.RotateKeysPayload, res *api.RotateKeysResult) error {
	if _, err := a.submitPayload(ctx, api.CmdRotateKeys, "", p); err != nil {
		return err
	}
	index := a.store().AppliedIndex()
	res.Steps = append(res.Steps, p.Step)
	lag := a.waitNodesApplied(ctx, index, rotateStepWait)
	for _, n := range lag {
		if !contains(res.Lagging, n) {
			res.Lagging = append(res.Lagging, n)
		}
	}
	return nil
}

// waitNodesApplied polls every node that is ready until it has applied index;
// it returns the names of those that did not within timeout.
func (a *Agent) waitNodesApplied(ctx context.Context, index uint64, timeout time.Duration) []string {
	deadline := time.Now().Add(timeout)
	for {
		var lag []string
		for _, n := range a.store().Nodes() {
			if n.Status != api.NodeReady {
				continue // down or restarting: it catches up when it is back
			}
			if !a.nodeApplied(ctx, n.ID, index) {
				lag = append(lag, n.Name)
			}
		}
		if len(lag) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return lag
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodeApplied asks node id whether it has applied index.
func (a *Agent) nodeApplied(ctx context.Context, id string, index uint64) bool {
	if id == a.ID() {
		return a.store().AppliedIndex() >= index
	}
	pid, err := peer.Decode(id)
	if err != nil {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var st statusReply
	if err := a.call(cctx, pid, rpcStatus, struct{}{}, &st); err != nil {
		return false
	}
	return st.AppliedIndex >= index
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// rotateRequest asks the leader to rotate keys for a caller: its API
// token, checked by the leader ("" from a voter's socket).
type rotateRequest struct {
	APIToken string `json:"api_token,omitempty"`
}

// rotateKeys serves POST /v1/cluster/rotate-keys through the leader.
func (s *apiServer) rotateKeys(r *http.Request) (any, error) {
	var req rotateRequest
	if c, ok := callerOf(r.Context()); ok {
		req.APIToken = c.Secret
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*rotateStepWait+10*time.Second)
	defer cancel()
	var res api.RotateKeysResult
	if err := s.backend.callLeader(ctx, rpcRotateKeys, req, &res); err != nil {
		return nil, err
	}
	return res, nil
}
