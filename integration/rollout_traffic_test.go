package integration

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestRollingUpdateUnderLoad: 6 container replicas published on an
// ingress port are updated 2 at a time, start-first, health-gated, while a
// client opens a new connection to n1's published port 100 times a
// second: at every poll at least 6 healthy tasks run, the update
// completes, every task ends on the new version, and not one request
// fails.
func TestRollingUpdateUnderLoad(t *testing.T) {
	c := boundContainerCluster(t, 3)
	n1 := c.agents[0]
	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v %s", err, out)
	}
	published := pickPort(t)
	if out, err := n1.CLI("service", "create", "roll", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=8080",
		"--replicas", "6", "--publish", fmt.Sprintf("name=http,published=%d,target=8080", published), "--health-http", "/healthz",
		"--health-interval", "200ms", "--health-retries", "1", "--restart-delay", "200ms",
		"--update-parallelism", "2", "--update-order", "start-first", "--update-monitor", "1s"); err != nil {
		t.Fatalf("create: %v %s", err, out)
	}
	waitHealthy(t, n1, "roll", 6)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(published))
	harness.WaitFor(t, 20*time.Second, "n1's published port answers", func() (bool, string) {
		_, _, err := whoami(freshClient, addr)
		return err == nil, fmt.Sprint(err)
	})
	rate := startRate(addr, 10*time.Millisecond)
	defer rate.Stop()

	start := time.Now()
	done := cliAsync(n1, "service", "update", "roll", "--env", "V=2", "--timeout", "180s")
	polls := 0
	res := pollUntilDone(t, n1, "roll", done, 200*time.Second, func(ts []api.TaskInfo) {
		polls++
		if healthy, _ := healthyTasks(ts, api.ServiceSpec{}); healthy < 6 {
			t.Fatalf("poll %d: %d healthy running tasks during a start-first update of 6", polls, healthy)
		}
	})
	end := time.Now()
	if res[1] != "" || !strings.Contains(res[0], "update status: completed") {
		t.Fatalf("service update: %s\n%s", res[1], res[0])
	}
	waitHealthy(t, n1, "roll", 6)
	rate.Stop()
	fails, total := rate.failed(start, end)
	if total < 100 {
		t.Fatalf("only %d requests during the update", total)
	}
	if len(fails) > 0 {
		for i, f := range fails {
			if i < 5 {
				t.Logf("failed at %s: %v", f.at.Format("15:04:05.000"), f.err)
			}
		}
		t.Fatalf("%d of %d requests failed during the rolling update", len(fails), total)
	}
	t.Logf("update took %s, %d polls, %d requests through n1's published port, none failed", end.Sub(start).Round(time.Millisecond), polls, total)
}
