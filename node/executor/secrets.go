package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/runtime"
)

// SecretFetcher gets the plaintext of a cluster secret for a task assigned
// to this node (from the leader, which hands it out only for such tasks).
// The executor calls it before it prepares a task whose spec names
// secrets, once per name, and owns the returned slice: it zeroes it once
// it has prepared and started the task, and never persists or logs it.
type SecretFetcher interface {
	FetchSecret(ctx context.Context, taskID, name string) ([]byte, error)
}

// A secret fetch that fails is tried again, up to secretFetchAttempts in
// all, secretFetchBackoff apart at first and twice as long each time: the
// leader may be changing.
const (
	secretFetchAttempts = 3
	secretFetchBackoff  = 100 * time.Millisecond
)

// addSecrets fetches the secrets t's spec names into spec. If one cannot
// be fetched it rejects the task ("secret NAME: <error>") and returns
// false; so it does when ctx ends, without a report.
func (s *supervisor) addSecrets(ctx context.Context, t api.Task, spec *runtime.TaskSpec) bool {
	secrets, err := s.e.fetchSecrets(ctx, t)
	if err != nil {
		if ctx.Err() == nil {
			s.e.setStatus(s.id, api.TaskStatus{State: api.TaskRejected, Err: err.Error()})
		}
		return false
	}
	spec.Secrets = secrets
	return true
}

// fetchSecrets fetches the secrets t's spec names, in order.
func (e *Executor) fetchSecrets(ctx context.Context, t api.Task) ([]runtime.Secret, error) {
	if len(t.Spec.Secrets) == 0 {
		return nil, nil
	}
	out := make([]runtime.Secret, 0, len(t.Spec.Secrets))
	for _, name := range t.Spec.Secrets {
		data, err := e.fetchSecret(ctx, t.ID, name)
		if err != nil {
			wipeSecrets(out)
			return nil, fmt.Errorf("secret %s: %w", name, err)
		}
		out = append(out, runtime.Secret{Name: name, Data: data})
	}
	return out, nil
}

// fetchSecret fetches one secret, retrying failures within ctx.
func (e *Executor) fetchSecret(ctx context.Context, taskID, name string) ([]byte, error) {
	if e.cfg.Secrets == nil {
		return nil, errors.New("node " + e.cfg.NodeName + " cannot fetch secrets (no secret fetcher)")
	}
	delay := secretFetchBackoff
	for attempt := 1; ; attempt++ {
		data, err := e.cfg.Secrets.FetchSecret(ctx, taskID, name)
		if err == nil {
			return data, nil
		}
		if attempt == secretFetchAttempts || ctxutil.Sleep(ctx, delay) != nil {
			return nil, err
		}
		delay *= 2
	}
}

// wipeSecrets zeroes the secrets' data.
func wipeSecrets(secrets []runtime.Secret) {
	for _, s := range secrets {
		clear(s.Data)
	}
}
