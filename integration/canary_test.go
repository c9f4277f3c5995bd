package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// Canaries and traffic splits (issue 13, part 4), against real agents.

// liveTasks are a service's tasks desired running and not ended.
func liveTasks(ts []api.TaskInfo) []api.TaskInfo {
	var out []api.TaskInfo
	for _, x := range ts {
		if x.DesiredState == api.TaskRunning && !x.State.Terminal() {
			out = append(out, x)
		}
	}
	return out
}

// byEnv counts live tasks by their spec's env (as "V=2", "" for none).
func byEnv(ts []api.TaskInfo) map[string]int {
	m := map[string]int{}
	for _, x := range liveTasks(ts) {
		m[strings.Join(x.Spec.Env, ",")]++
	}
	return m
}

// TestCanaryThenPromote: 3 replicas of v1 on 3 agents; `service update
// --env V=2 --canary 1` exits 0 once the canary is healthy beside the
// old tasks (4 tasks, one of v2, UPDATE "canary 1/1"); `service promote`
// exits 0 when the update completed, with 3 tasks, all v2, the canary
// among them. The next update (--env V=3) holds with its canary too, and
// `service rollback` stops it and ends on v2's tasks.
func TestCanaryThenPromote(t *testing.T) {
	c := startCluster(t, 3, "--runtime", "process")
	a := c.agents[0]
	flag := healthyFlag(t)
	// Rebalancing off: the canary's task must stay where it started for
	// the test to follow it (after the update, moves may even the spread).
	createService(t, a, "web", "--replicas", "3", "--restart-delay", "200ms",
		"--health-cmd", "test -f "+flag, "--health-interval", "200ms", "--health-retries", "2",
		"--update-monitor", "1s", "--rebalance", "off")
	waitHealthy(t, a, "web", 3)

	out, err := a.CLI("service", "update", "web", "--env", "V=2", "--canary", "1", "--timeout", "90s")
	if err != nil || !strings.Contains(out, "update status: canary: 1 of 3 replicas run version 2 beside the old tasks") || !strings.Contains(out, "verify: update held (canary 1/1)") {
		t.Fatalf("service update --canary 1: %v\n%s", err, out)
	}
	ts, err := tasks(a, "web")
	if err != nil {
		t.Fatal(err)
	}
	if got := byEnv(ts); got["V=2"] != 1 || got[""] != 3 || len(got) != 2 {
		t.Fatalf("held: live tasks by version %v, want 3 of v1 and 1 of v2", got)
	}
	var canary string
	for _, x := range liveTasks(ts) {
		if len(x.Spec.Env) > 0 {
			canary = x.ID
			if x.State != api.TaskRunning || x.Health != api.HealthHealthy {
				t.Fatalf("the canary %s is %s %q while held", x.ID, x.State, x.Health)
			}
		}
	}
	if s := service(t, a, "web"); !s.UpdateStatus.Held() {
		t.Fatalf("status %+v", s.UpdateStatus)
	}
	if ls, err := a.CLI("service", "ls"); err != nil || !strings.Contains(ls, "canary 1/1") {
		t.Fatalf("service ls: %v\n%s", err, ls)
	}

	out, err = a.CLI("service", "promote", "web", "--timeout", "90s")
	if err != nil || !strings.Contains(out, "update status: completed") {
		t.Fatalf("service promote: %v\n%s", err, out)
	}
	waitHealthy(t, a, "web", 3)
	ts, _ = tasks(a, "web")
	if got := byEnv(ts); got["V=2"] != 3 || len(got) != 1 {
		t.Fatalf("promoted: live tasks by version %v, want 3 of v2", got)
	}
	kept := false
	for _, x := range liveTasks(ts) {
		kept = kept || x.ID == canary
	}
	if !kept {
		t.Fatalf("the canary %s did not stay: it counts as an updated slot", canary)
	}
	// Promoting again: nothing is held, a one-line refusal.
	out, err = a.CLI("service", "promote", "web")
	if err == nil || !strings.Contains(out, "no update held in canary") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("a second promote: %v\n%s", err, out)
	}

	// The policy keeps its canary: the next update holds too, and a
	// rollback then stops the canary and ends on v2, its tasks kept.
	before := liveTasks(ts)
	out, err = a.CLI("service", "update", "web", "--env", "V=3", "--timeout", "90s")
	if err != nil || !strings.Contains(out, "verify: update held (canary 1/1)") {
		t.Fatalf("service update --env V=3: %v\n%s", err, out)
	}
	out, err = a.CLI("service", "rollback", "web", "--timeout", "90s")
	if err != nil || !strings.Contains(out, "update status: rollback_completed") {
		t.Fatalf("service rollback during the canary: %v\n%s", err, out)
	}
	waitHealthy(t, a, "web", 3)
	ts, _ = tasks(a, "web")
	if got := byEnv(ts); got["V=2"] != 3 || len(got) != 1 {
		t.Fatalf("rolled back: live tasks by version %v, want 3 of v2", got)
	}
	for _, x := range before {
		if !slices.ContainsFunc(liveTasks(ts), func(y api.TaskInfo) bool { return y.ID == x.ID }) {
			t.Fatalf("v2 task %s was replaced by the rollback; it runs the restored spec", x.ID)
		}
	}
}

// TestTrafficSplitByWeight: 2 replicas of the hello binary behind an
// ingress port (the kernel's DNAT on 4 loopback agents); `service update
// --env V=2 --traffic new=20` holds with 2 tasks of each version, and
// of 1,000 requests, each on a new connection, 15–25% reach the new
// tasks, and so do 15–25% of 1,000 UDP sessions through the same
// service's UDP ingress port (the userspace proxy); `--traffic new=50` then changes the split alone; `service
// promote` sends every request to the new tasks and stops the old ones,
// while a download already under way from an old task runs to its end
// (the task's stop grace period: hello shuts down gracefully).
func TestTrafficSplitByWeight(t *testing.T) {
	// Process tasks listen on their node's address: one per node, so the
	// 2 new replicas beside the 2 old ones need 4 agents.
	c := loopbackCluster(t, 4)
	a := c.agents[0]
	port, pub, udpPub := pickPort(t), pickPort(t), pickPort(t)
	helloService(t, a, "web", port, []string{"HELLO_UDP=1"}, "--replicas", "2", "--max-per-node", "1",
		"--publish", fmt.Sprintf("published=%d,target=%d,mode=ingress", pub, port),
		"--publish", fmt.Sprintf("published=%d,target=%d,protocol=udp,mode=ingress", udpPub, port),
		"--health-cmd", `test -n "$PORT"`, "--health-interval", "200ms", "--health-retries", "1",
		"--update-monitor", "1s")
	waitRunningHealthy(t, a, "web", 2)
	addr := fmt.Sprintf("127.0.0.1:%d", pub)

	out, err := a.CLI("service", "update", "web", "--env", "V=2", "--env", "HELLO_UDP=1", "--traffic", "new=20", "--timeout", "90s")
	if err != nil || !strings.Contains(out, "verify: update held (traffic 20%)") {
		t.Fatalf("service update --traffic new=20: %v\n%s", err, out)
	}
	version := func() map[string]string { // task ID → "old" or "new"
		ts, err := tasks(a, "web")
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, x := range liveTasks(ts) {
			m[x.ID] = "old"
			if slices.Contains(x.Spec.Env, "V=2") {
				m[x.ID] = "new"
			}
		}
		return m
	}
	vers := version()
	if len(vers) != 4 {
		t.Fatalf("held: %d live tasks %v, want 2 of each version", len(vers), vers)
	}
	count := func(n int) map[string]int {
		t.Helper()
		got := map[string]int{}
		for range n {
			task, _, err := whoami(freshClient, addr)
			if err != nil {
				t.Fatalf("request through %s: %v (after %v)", addr, err, got)
			}
			got[vers[task]]++
		}
		return got
	}
	// Every agent follows the split once it applied the hold; n1 serves
	// the requests: wait until its table carries the split (a weighted
	// map of 10 slots: 2 new of 1, 2 old of 4).
	harness.WaitFor(t, 20*time.Second, "n1's ingress rule carries the split", func() (bool, string) {
		n, rules := ingressBackends(a, pub)
		return n == 10, rules
	})
	got := count(1000)
	t.Logf("new=20: %v", got)
	if got["new"] < 150 || got["new"] > 250 || got["new"]+got["old"] != 1000 {
		t.Fatalf("new=20: %v of 1000 requests, want 150-250 to the new version", got)
	}

	// The UDP port is the userspace proxy's: it draws by the same shares.
	udp := map[string]int{}
	for range 1000 {
		task, err := udpWhoami(fmt.Sprintf("127.0.0.1:%d", udpPub))
		if err != nil {
			t.Fatalf("UDP through the proxy: %v (after %v)", err, udp)
		}
		udp[vers[task]]++
	}
	t.Logf("new=20 over UDP: %v", udp)
	if udp["new"] < 150 || udp["new"] > 250 || udp["new"]+udp["old"] != 1000 {
		t.Fatalf("new=20 over UDP: %v of 1000 sessions, want 150-250 to the new version", udp)
	}

	out, err = a.CLI("service", "update", "web", "--traffic", "new=50", "--timeout", "30s")
	if err != nil || !strings.Contains(out, "verify: update held (traffic 50%)") {
		t.Fatalf("service update --traffic new=50: %v\n%s", err, out)
	}
	if v := version(); len(v) != 4 || fmt.Sprint(v) != fmt.Sprint(vers) {
		t.Fatalf("a weight change replaced tasks: %v, was %v", v, vers)
	}

	// A download from an old task, under way when the promotion comes.
	inflight := oldDownload(t, addr, vers)
	done := cliAsync(a, "service", "promote", "web", "--timeout", "90s")
	harness.WaitFor(t, 30*time.Second, "the promotion stops "+inflight.task, func() (bool, string) {
		ts, err := tasks(a, "web")
		if err != nil {
			return false, err.Error()
		}
		for _, x := range ts {
			if x.ID == inflight.task {
				return x.DesiredState > api.TaskRunning, fmt.Sprintf("%s desired %s", x.State, x.DesiredState)
			}
		}
		return false, "task gone"
	})
	if n, err := io.Copy(io.Discard, inflight.body); err != nil || n+inflight.read != downloadSize {
		t.Fatalf("the download in flight on old task %s: %d of %d bytes, %v", inflight.task, n+inflight.read, downloadSize, err)
	}
	inflight.conn.Close()
	res := <-done
	if res[1] != "" || !strings.Contains(res[0], "update status: completed") {
		t.Fatalf("service promote: %s\n%s", res[1], res[0])
	}
	ts, _ := tasks(a, "web")
	for _, x := range ts {
		if vers[x.ID] == "old" && x.DesiredState == api.TaskRunning {
			t.Fatalf("old task %s is still desired running after the promotion", x.ID)
		}
	}
	// They stop after their stop delay (out of the endpoints meanwhile).
	harness.WaitFor(t, 20*time.Second, "the old tasks stopped", func() (bool, string) {
		ts, err := tasks(a, "web")
		if err != nil {
			return false, err.Error()
		}
		for _, x := range ts {
			if vers[x.ID] == "old" && !x.State.Terminal() {
				return false, fmt.Sprintf("old task %s is %s", x.ID, x.State)
			}
		}
		return true, ""
	})
	harness.WaitFor(t, 20*time.Second, "n1's ingress rule has the new tasks alone", func() (bool, string) {
		n, rules := ingressBackends(a, pub)
		return n == 2, rules
	})
	got = count(200)
	if got["new"] != 200 {
		t.Fatalf("after promote: %v of 200 requests, want all to the new version", got)
	}
}

// downloadSize is what oldDownload asks for: more than the sockets
// buffer, so that most of it is still to come when the promotion stops
// the task.
const downloadSize = 16 << 20

// inflightGet is a GET /bytes in flight on one connection.
type inflightGet struct {
	task string
	conn net.Conn
	body io.Reader
	read int64
}

// oldDownload opens connections to addr until one reaches an old task
// (GET /whoami on it), starts a download of downloadSize bytes on the
// same connection and reads its first 64 KiB.
func oldDownload(t *testing.T, addr string, vers map[string]string) inflightGet {
	t.Helper()
	for range 100 {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		get := func(path string) *http.Response {
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: web\r\n\r\n", path)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			return resp
		}
		resp := get("/whoami")
		b, _ := io.ReadAll(resp.Body)
		task, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		if vers[task] != "old" {
			c.Close()
			continue
		}
		resp = get(fmt.Sprintf("/bytes?n=%d", downloadSize))
		n, err := io.CopyN(io.Discard, resp.Body, 64<<10)
		if err != nil {
			t.Fatalf("download from %s: %v", task, err)
		}
		return inflightGet{task: task, conn: c, body: resp.Body, read: n}
	}
	t.Fatal("100 connections and none reached an old task")
	return inflightGet{}
}

// udpWhoami sends a datagram to addr from a new socket (a new session
// for the proxy, so a new choice of backend) and returns the task that
// answered ("TASK CLIENT PAYLOAD"); it tries 3 times.
func udpWhoami(addr string) (string, error) {
	var err error
	for range 3 {
		var c net.Conn
		if c, err = net.Dial("udp", addr); err != nil {
			return "", err
		}
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1024)
		var n int
		n, err = c.Read(buf)
		c.Close()
		if err == nil {
			task, _, _ := strings.Cut(string(buf[:n]), " ")
			return task, nil
		}
	}
	return "", err
}
