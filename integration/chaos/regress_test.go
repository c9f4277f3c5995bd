package chaos

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// Regression tests for the Shoal bugs the chaos runs found. Each one fails
// while its bug is there.

// startSmall starts a cluster of n agents and stops it at the end.
func startSmall(t *testing.T, n int) *cluster {
	c := newCluster(t, t.TempDir(), n)
	t.Cleanup(func() {
		for _, a := range c.agents {
			a.resume()
			a.kill()
			killUnder(a.dataDir)
		}
	})
	c.start()
	return c
}

// followers returns the agents other than the leader.
func (c *cluster) followers(leader *agent) []*agent {
	var out []*agent
	for _, a := range c.agents {
		if a != leader {
			out = append(out, a)
		}
	}
	return out
}

// TestRegressionConsistentReadOnQuietFollower: with no writes going on, a
// consistent read on a follower must answer. The leader answers readIndex
// with Raft's applied index, which counts configuration entries that never
// reach the FSM, and the follower waits for its store's applied index to
// reach it — which only a later command does (node/submit.go, handleRPC
// "readIndex" and consistentRead).
func TestRegressionConsistentReadOnQuietFollower(t *testing.T) {
	c := startSmall(t, 3)
	leader := c.waitLeader(10 * time.Second)
	if leader == nil {
		t.Fatal("no leader")
	}
	for _, f := range c.followers(leader) {
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
		var svcs []api.ServiceInfo
		start := time.Now()
		err := f.get(ctx, "/v1/services?consistent=true", &svcs)
		cancel()
		if err != nil {
			st, _ := f.status(time.Second)
			t.Errorf("consistent read on follower %s failed after %.1fs: %v (its commit index %d, applied index %d)",
				f.name, time.Since(start).Seconds(), err, st.CommitIndex, st.AppliedIndex)
		}
	}
}

// TestRegressionWriteOnCutOffNodeAnswersFromStaleReplica: a node cut off
// from the leader must not answer a scale or a delete of a service it has
// not heard of yet with a definite "no such service": the service exists,
// and the write was never tried. updateService and removeService look the
// service up in the local replica before submitting (node/http_services.go,
// findService), so a stale replica decides the outcome of a write.
func TestRegressionWriteOnCutOffNodeAnswersFromStaleReplica(t *testing.T) {
	c := startSmall(t, 3)
	leader := c.waitLeader(10 * time.Second)
	if leader == nil {
		t.Fatal("no leader")
	}
	cut := c.followers(leader)[0]
	var rest []string
	for _, a := range c.agents {
		if a != cut {
			rest = append(rest, a.name)
			if err := a.fault(faultRequest{Block: []string{cut.name}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := cut.fault(faultRequest{Block: rest}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := leader.client("t").CreateService(ctx, kvSpec("late", 0, "x")); err != nil {
		t.Fatalf("create on the majority: %v", err)
	}
	replicas := uint64(1)
	for _, w := range []struct {
		what   string
		method string
		body   any
	}{
		{"scale", http.MethodPost, api.ServiceUpdateRequest{Replicas: &replicas}},
		{"delete", http.MethodDelete, nil},
	} {
		wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := cut.do(wctx, w.method, "/v1/services/late", w.body, nil)
		wcancel()
		if api.CodeOf(err) == api.CodeNotFound {
			t.Errorf("%s of an existing service on a node cut off from the leader answered a definite %v", w.what, err)
		}
	}
}

// TestRegressionRetriedDeleteAnswersNotFound: a DELETE retried with the
// same X-Request-ID (what api.Client does after a 503 or a dropped
// connection) must answer like the first attempt; removeService looks the
// service up before submitting, so the retry of a delete that applied
// answers 404 (node/http_services.go, removeService). The same holds for a
// retried create once the service is gone (createService re-reads it).
func TestRegressionRetriedDeleteAnswersNotFound(t *testing.T) {
	c := startSmall(t, 3)
	a := c.agents[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.client("t").CreateService(ctx, kvSpec("gone", 0, "x")); err != nil {
		t.Fatal(err)
	}
	del := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+a.apiAddr+"/v1/services/gone", nil)
		req.Header.Set(api.HeaderRequestID, "chaos-retried-delete")
		resp, err := httpc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return api.Errorf(api.CodeInternal, "status %d", resp.StatusCode)
		}
		return nil
	}
	if err := del(); err != nil {
		t.Fatalf("first delete: %v", err)
	}
	if err := del(); err != nil {
		t.Errorf("the same delete retried with the same request ID: %v, want the first answer (200)", err)
	}
}
