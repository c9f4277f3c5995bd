package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/node/vip"
)

// healthyService creates a 3-task hello service, one per node, whose
// tasks take traffic once their own /healthz answers (checked every
// 200 ms from the host, so a restarted task joins only once it
// listens), published on an ingress port, and waits for the 3 healthy.
func healthyService(t testing.TB, c *cluster, name string, target, published int, env []string, publish string) {
	t.Helper()
	n1 := c.agents[0]
	helloService(t, n1, name, target, env, "--replicas", "3", "--max-per-node", "1",
		"--publish", fmt.Sprintf("published=%d,target=%d,mode=ingress%s", published, target, publish),
		"--health-cmd", helloBinary(t)+" -check http://$SHOAL_TASK_IP:$PORT/healthz",
		"--health-interval", "200ms", "--health-retries", "1", "--restart-delay", "200ms")
	waitRunningHealthy(t, n1, name, 3)
}

// waitRunningHealthy waits until the service has want running healthy tasks.
func waitRunningHealthy(t testing.TB, a *agentProc, name string, want int) {
	t.Helper()
	harness.WaitFor(t, 60*time.Second, fmt.Sprintf("%d healthy %s tasks", want, name), func() (bool, string) {
		ts, err := tasks(a, name)
		if err != nil {
			return false, err.Error()
		}
		ok, detail := 0, ""
		for _, x := range ts {
			detail += fmt.Sprintf("%s/%s %s %q; ", x.NodeName, x.ID[:8], x.State, x.Health)
			if x.State == api.TaskRunning && x.Health == api.HealthHealthy {
				ok++
			}
		}
		return ok == want, detail
	})
}

// TestServiceTrafficIngressFailover: a client asks n1's kernel ingress
// port 200 times a second, each request on a new connection, while
// n2's task is killed -9 (and replaced), then n3 dies (its agent and its
// task). Requests may fail between a kill and the moment n1's API shows
// it (a third of them go to the dead backend: the kernel does not skip
// a refusing one); once n1's table has dropped the backend — within a
// second of the API showing it — none fails, and a burst of 50 new
// connections right after all succeed.
func TestServiceTrafficIngressFailover(t *testing.T) {
	c := loopbackCluster(t, 3)
	n1 := c.agents[0]
	target, published := pickPort(t), pickPort(t)
	healthyService(t, c, "ff", target, published, nil, "")
	addr := fmt.Sprintf("127.0.0.1:%d", published)
	harness.WaitFor(t, 10*time.Second, "n1's rule with 3 backends", func() (bool, string) {
		n, d := ingressBackends(n1, published)
		return n == 3, d
	})
	rate := startRate(addr, 5*time.Millisecond)
	defer rate.Stop()

	var fos []failover
	f := killTask(t, n1, "ff", "n2")
	f.dropped = waitDropped(t, n1, published, 2)
	fos = append(fos, f)
	burst(t, addr, 50)
	waitRunningHealthy(t, n1, "ff", 3) // n2's replacement
	harness.WaitFor(t, 10*time.Second, "n1's rule with n2's replacement", func() (bool, string) {
		n, d := ingressBackends(n1, published)
		return n == 3, d
	})

	// n3 dies: its agent and its task. Its table would die with its host;
	// here the host is shared, so the test removes it.
	// The same rate of requests with every backend up, for the log.
	harness.WaitFor(t, 10*time.Second, "a second of requests with 3 backends", func() (bool, string) {
		_, n := rate.failed(fos[0].dropped, time.Time{})
		return n >= 200, fmt.Sprint(n)
	})
	n3 := c.byName("n3")
	f = failover{what: "node n3 died", killed: time.Now()}
	n3.Die()
	if err := vip.Remove(vip.TableName(n3.id)); err != nil {
		t.Fatal(err)
	}
	f.seen = waitSeen(t, "n3 down", func() (bool, string) {
		var nodes []api.NodeInfo
		if err := n1.get("/v1/nodes", &nodes); err != nil {
			return false, err.Error()
		}
		for _, n := range nodes {
			if n.Name == "n3" {
				return n.Status == api.NodeDown, string(n.Status)
			}
		}
		return false, "n3 not listed"
	})
	f.dropped = waitDropped(t, n1, published, 2)
	fos = append(fos, f)
	burst(t, addr, 50)
	harness.WaitFor(t, 10*time.Second, "a second of requests after n1's rule dropped n3's task", func() (bool, string) {
		_, n := rate.failed(f.dropped, time.Time{})
		return n >= 200, fmt.Sprint(n)
	})
	rate.Stop()

	for i, f := range fos {
		before, n := rate.failed(f.killed, f.seen)
		var next time.Time // the next kill; none: the end
		if i+1 < len(fos) {
			next = fos[i+1].killed
		}
		after, m := rate.failed(f.dropped, next)
		inWindow, k := rate.failed(f.seen, f.dropped)
		t.Logf("%s: %d of %d requests failed before the API showed it (%s after the kill), %d of %d in the %s until n1's rule dropped it, %d of %d after",
			f.what, len(before), n, f.seen.Sub(f.killed).Round(time.Millisecond), len(inWindow), k, f.dropped.Sub(f.seen).Round(time.Millisecond), len(after), m)
		if d := f.dropped.Sub(f.seen); d > time.Second {
			t.Errorf("%s: n1's rule dropped the backend %s after the API showed it (want within a second)", f.what, d)
		}
	}
	last := fos[len(fos)-1]
	noneFailed(t, rate, "after n1's rule dropped n3's task", last.dropped, time.Time{})
	noneFailed(t, rate, "between n1's rule dropping n2's task and n3's death", fos[0].dropped, last.killed)
}

// noneFailed fails the test unless requests started in [from, to) and
// all succeeded.
func noneFailed(t *testing.T, rate *rateClient, when string, from, to time.Time) {
	t.Helper()
	fails, n := rate.failed(from, to)
	switch {
	case n == 0:
		t.Errorf("no request %s", when)
	case len(fails) > 0:
		for i, f := range fails {
			if i < 5 || i == len(fails)-1 {
				t.Logf("failed at %s: %v", f.at.Format("15:04:05.000"), f.err)
			}
		}
		t.Errorf("%d of %d requests failed %s: first at %s: %v", len(fails), n, when, fails[0].at.Format("15:04:05.000"), fails[0].err)
	}
}
