package integration

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/node/vip"
)

// rateClient GETs /whoami at addr at a constant rate, each request on a
// new connection (a new choice of backend) and in its own goroutine, so
// that a slow answer does not slow the rate; it records every outcome by
// the time the request started.
type rateClient struct {
	mu      sync.Mutex
	results []rateResult
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

type rateResult struct {
	at   time.Time
	task string
	err  error
}

func startRate(addr string, every time.Duration) *rateClient {
	r := &rateClient{stop: make(chan struct{})}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-r.stop:
				return
			case at := <-tick.C:
				r.wg.Add(1)
				go func() {
					defer r.wg.Done()
					task, _, err := whoami(freshClient, addr)
					r.mu.Lock()
					r.results = append(r.results, rateResult{at: at, task: task, err: err})
					r.mu.Unlock()
				}()
			}
		}
	}()
	return r
}

// Stop ends the requests and waits for those in flight.
func (r *rateClient) Stop() {
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
}

// failed returns the failures of requests started in [from, to) (a zero
// to: no end) and how many requests started then.
func (r *rateClient) failed(from, to time.Time) (fails []rateResult, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.results {
		if x.at.Before(from) || !to.IsZero() && !x.at.Before(to) {
			continue
		}
		total++
		if x.err != nil {
			fails = append(fails, x)
		}
	}
	return fails, total
}

func tableOf(node *agentProc) string { return vip.TableName(node.id) }

// ingressBackends is how many backends node's table sends published to
// (0: no rule), read from `nft list table`.
func ingressBackends(node *agentProc, published int) (int, string) {
	out, err := exec.Command("nft", "list", "table", "ip", tableOf(node)).CombinedOutput()
	if err != nil {
		return 0, fmt.Sprintf("%v %s", err, out)
	}
	m := regexp.MustCompile(fmt.Sprintf(`tcp dport %d ct mark set .* numgen random mod (\d+) `, published)).FindSubmatch(out)
	if m == nil {
		return 0, string(out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n, string(out)
}

// failover is one backend lost: when it was killed, when the API showed
// it (task failed or node down), and when the observer node's ingress
// rule had one backend fewer.
type failover struct {
	what                  string
	killed, seen, dropped time.Time
}

// killTask kills -9 the process of service's running task on node and
// returns when the observer's API shows it gone (failed, or unhealthy).
func killTask(t testing.TB, observer *agentProc, service, node string) failover {
	t.Helper()
	ts, err := tasks(observer, service)
	if err != nil {
		t.Fatal(err)
	}
	var victim api.TaskInfo
	for _, x := range ts {
		if x.NodeName == node && x.State == api.TaskRunning {
			victim = x
		}
	}
	if victim.Status.PID == 0 {
		t.Fatalf("no running task of %s with a PID on %s: %+v", service, node, ts)
	}
	f := failover{what: fmt.Sprintf("task %s on %s killed", victim.ID[:8], node), killed: time.Now()}
	if err := syscall.Kill(victim.Status.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	f.seen = waitSeen(t, "task "+victim.ID[:8]+" failed in the API", func() (bool, string) {
		ts, err := tasks(observer, service)
		if err != nil {
			return false, err.Error()
		}
		for _, x := range ts {
			if x.ID == victim.ID {
				return x.State != api.TaskRunning || x.Health == api.HealthUnhealthy, fmt.Sprint(x.State)
			}
		}
		return true, "" // gone
	})
	return f
}

// waitDropped waits until node's ingress rule for published has left
// backends and returns when.
func waitDropped(t testing.TB, node *agentProc, published, left int) time.Time {
	t.Helper()
	return waitSeen(t, fmt.Sprintf("%s's ingress rule with %d backends", node.Name, left), func() (bool, string) {
		n, detail := ingressBackends(node, published)
		return n == left, detail
	})
}

// waitSeen polls cond every 10 ms (10 s at most) and returns when it held.
func waitSeen(t testing.TB, what string, cond func() (bool, string)) time.Time {
	t.Helper()
	if _, err := harness.PollEvery(10*time.Millisecond, 10*time.Second, what, cond); err != nil {
		t.Fatal(err)
	}
	return time.Now()
}

// burst makes n requests to addr, each on a new connection; all must
// succeed.
func burst(t testing.TB, addr string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, _, err := whoami(freshClient, addr); err != nil {
			t.Fatalf("request %d of %d to %s after the failure was seen: %v", i+1, n, addr, err)
		}
	}
}
