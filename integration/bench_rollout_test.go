package integration

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

var (
	rolloutReplicas = flag.Int("rollout-replicas", 100, "replicas of BenchmarkRollingUpdate's service")
	rolloutRounds   = flag.Int("rollout-rounds", 3, "updates BenchmarkRollingUpdate times")
)

// BenchmarkRollingUpdate rolls a service of -rollout-replicas containers
// (hello, HTTP health check) to a new version, 10 at a time, start-first,
// -rollout-rounds times, while a client opens a new connection to n1's
// published port 100 times a second. It reports the median time from the
// update to its completed status and every failed request (goal 0). Run
// it with `make bench-rollout`.
func BenchmarkRollingUpdate(b *testing.B) {
	c := boundContainerCluster(b, 3)
	n1 := c.agents[0]
	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil {
		b.Fatalf("image load: %v %s", err, out)
	}
	reps := *rolloutReplicas
	published := pickPort(b)
	if out, err := n1.CLI("service", "create", "roll", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=8080",
		"--replicas", strconv.Itoa(reps), "--publish", fmt.Sprintf("name=http,published=%d,target=8080", published), "--health-http", "/healthz",
		"--health-interval", "500ms", "--health-retries", "1",
		"--update-parallelism", "10", "--update-order", "start-first", "--update-monitor", "1s"); err != nil {
		b.Fatalf("create: %v %s", err, out)
	}
	waitAllHealthy(b, n1, "roll", reps, 5*time.Minute)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(published))
	harness.WaitFor(b, 20*time.Second, "n1's published port answers", func() (bool, string) {
		_, _, err := whoami(freshClient, addr)
		return err == nil, fmt.Sprint(err)
	})
	rate := startRate(addr, 10*time.Millisecond)
	defer rate.Stop()
	var took []time.Duration
	failed, total := 0, 0
	for round := 1; round <= *rolloutRounds; round++ {
		start := time.Now()
		if out, err := n1.CLI("service", "update", "roll", "--detach", "--env", fmt.Sprintf("V=%d", round+1)); err != nil {
			b.Fatalf("update: %v %s", err, out)
		}
		_, err := harness.PollEvery(100*time.Millisecond, 10*time.Minute, "the update to complete", func() (bool, string) {
			var s api.ServiceInfo
			if err := n1.get("/v1/services/roll", &s); err != nil {
				return false, err.Error()
			}
			if s.UpdateStatus == nil {
				return false, "no update status"
			}
			return s.UpdateStatus.State == api.UpdateCompleted && s.UpdateStatus.ToVersion == uint64(round+1), s.UpdateStatus.State
		})
		if err != nil {
			b.Fatal(err)
		}
		end := time.Now()
		fails, n := rate.failed(start, end)
		failed, total = failed+len(fails), total+n
		took = append(took, end.Sub(start))
		fmt.Printf("round %d: %d replicas rolled in %.1fs; %d of %d requests failed\n", round, reps, end.Sub(start).Seconds(), len(fails), n)
		for i, f := range fails {
			if i < 3 {
				fmt.Printf("  failed at %s: %v\n", f.at.Format("15:04:05.000"), f.err)
			}
		}
	}
	medianOnly(b, fmt.Sprintf("rolling update of %d replicas, parallelism 10, start-first", reps), "roll-s", took)
	fmt.Printf("requests during the updates: %d, failed: %d\n", total, failed)
	b.ReportMetric(float64(failed), "failed-requests")
}

// waitAllHealthy waits until the service has want running healthy tasks.
func waitAllHealthy(t testing.TB, a *agentProc, name string, want int, timeout time.Duration) {
	t.Helper()
	harness.WaitFor(t, timeout, fmt.Sprintf("%d healthy %s tasks", want, name), func() (bool, string) {
		ts, err := tasks(a, name)
		if err != nil {
			return false, err.Error()
		}
		healthy, _ := healthyTasks(ts, api.ServiceSpec{})
		return healthy == want, fmt.Sprintf("%d healthy", healthy)
	})
}
