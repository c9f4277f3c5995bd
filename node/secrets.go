package node

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// Secrets. A secret's plaintext travels from the API node to the leader
// inside the encrypted node RPC; the leader seals it (AES-256-GCM under
// the cluster's data key, the secret's ID as additional data) before it
// proposes, so the log, snapshots and every replica hold only the sealed
// value. A node gets a plaintext back only from the leader, only for a
// task assigned to it whose spec names the secret (rpcSecret), and hands
// it to the runtime in memory, which puts it on a tmpfs.

// sealSecret seals plaintext under key for the secret id.
func sealSecret(key []byte, id string, plaintext []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, []byte(id)), nil
}

// openSecret opens a value sealSecret made.
func openSecret(key []byte, id string, sealed []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed secret is too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(id))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// stampSecret seals a secret on the leader: it draws the secret's ID, and
// the cluster's data key if it has none yet, and replaces the plaintext
// with the sealed value.
func stampSecret(cmd *api.Command, cluster *api.Cluster) error {
	var p api.CreateSecretPayload
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return api.Errorf(api.CodeInvalid, "bad payload: %v", err)
	}
	if p.Data == nil {
		return api.Errorf(api.CodeInvalid, "create secret: no value")
	}
	if p.SecretID == "" {
		p.SecretID = api.NewRequestID()
	}
	key := cluster.DataKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		p.DataKey = key
	}
	sealed, err := sealSecret(key, p.SecretID, p.Data)
	if err != nil {
		return err
	}
	p.Size, p.Sealed = len(p.Data), sealed
	clear(p.Data)
	p.Data = nil
	return setPayload(cmd, p)
}

// secretRequest asks the leader for a secret's plaintext for a task.
type secretRequest struct {
	TaskID string `json:"task_id"`
	Name   string `json:"name"`
}

// secretReply carries the plaintext (over the encrypted node RPC only).
type secretReply struct {
	Data []byte `json:"data"`
}

// releaseSecret returns a secret's plaintext to node from for one of its
// tasks, or why not: the task must be assigned to from, still meant to
// run, and name the secret in its spec.
func releaseSecret(from string, req secretRequest, v *state.View) ([]byte, error) {
	t, ok := v.Task(req.TaskID)
	switch {
	case !ok:
		return nil, api.Errorf(api.CodeNotFound, "secret %s: no task %s", req.Name, req.TaskID)
	case t.NodeID != from:
		return nil, api.Errorf(api.CodeForbidden, "secret %s: task %s is not assigned to node %s", req.Name, api.ShortID(req.TaskID), api.ShortID(from))
	case !t.Active():
		return nil, api.Errorf(api.CodeForbidden, "secret %s: task %s is not meant to run", req.Name, api.ShortID(req.TaskID))
	case !slices.Contains(t.Spec.Secrets, req.Name):
		return nil, api.Errorf(api.CodeForbidden, "secret %s: task %s does not use it", req.Name, api.ShortID(req.TaskID))
	}
	s, ok := v.Secret(req.Name)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "secret %s does not exist", req.Name)
	}
	c, ok := v.Cluster()
	if !ok || len(c.DataKey) == 0 {
		return nil, api.Errorf(api.CodeUnavailable, "secret %s: the cluster has no data key", req.Name)
	}
	data, err := openSecret(c.DataKey, s.ID, s.Sealed)
	if err != nil {
		return nil, api.Errorf(api.CodeInternal, "secret %s: cannot open it: %v", req.Name, err)
	}
	return data, nil
}

// FetchSecret gets a secret's plaintext for one of this node's tasks from
// the leader (the executor's SecretFetcher).
func (a *Agent) FetchSecret(ctx context.Context, taskID, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var reply secretReply
	if err := a.callLeader(ctx, rpcSecret, secretRequest{TaskID: taskID, Name: name}, &reply); err != nil {
		return nil, err
	}
	return reply.Data, nil
}
