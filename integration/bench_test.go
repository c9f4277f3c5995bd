package integration

import (
	"flag"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

var (
	failoverKills = flag.Int("failover-kills", 10, "leader kills in BenchmarkFailover")
	healKills     = flag.Int("heal-kills", 5, "node kills in BenchmarkHeal*")
)

// report prints and records the median and maximum of samples.
func report(b *testing.B, what string, samples []time.Duration) {
	sorted := append([]time.Duration(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	med := sorted[len(sorted)/2]
	if len(sorted)%2 == 0 {
		med = (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	max := sorted[len(sorted)-1]
	fmt.Printf("%s: n=%d median=%.2fs max=%.2fs samples=%v\n", what, len(samples), med.Seconds(), max.Seconds(), sorted)
	b.ReportMetric(med.Seconds(), "median-s")
	b.ReportMetric(max.Seconds(), "max-s")
}

// BenchmarkFailover kills the leader of a 3-voter loopback cluster
// -failover-kills times and measures, for each kill, the time until a new
// leader has committed a write. Run it with `make bench-failover`.
func BenchmarkFailover(b *testing.B) {
	c := startCluster(b, 3)
	waitVoters(b, c.agents[0], 3)
	var samples []time.Duration
	for i := 0; i < *failoverKills; i++ {
		old := c.leader()
		survivor := c.anyRunning(old)
		start := time.Now()
		old.Kill()
		for {
			err := survivor.post("/v1/nodes/"+survivor.Name, api.NodeUpdateRequest{LabelAdd: map[string]string{"kill": fmt.Sprint(i)}}, nil)
			if err == nil {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("no write within 30s of the leader's death: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		samples = append(samples, time.Since(start))
		old.Start()
		c.waitMembers(3)
		waitVoters(b, survivor, 3)
	}
	report(b, "leader kill -9 -> write committed by a new leader", samples)
}

// BenchmarkHealNode kills a non-leader node (agent and tasks) and measures
// the time until all of the service's tasks run elsewhere.
func BenchmarkHealNode(b *testing.B) { benchHeal(b, false) }

// BenchmarkHealLeader kills the leader (agent and tasks) and measures the
// time until all of the service's tasks run elsewhere.
func BenchmarkHealLeader(b *testing.B) { benchHeal(b, true) }

func benchHeal(b *testing.B, killLeader bool) {
	c := startCluster(b, 3, "--runtime", "process")
	waitVoters(b, c.agents[0], 3)
	var samples []time.Duration
	for i := 0; i < *healKills; i++ {
		// A fresh service each round spreads 2 tasks onto every node, the
		// victim included (Shoal does not rebalance onto restarted nodes).
		leader := c.leader()
		name := fmt.Sprintf("heal%d", i)
		createService(b, leader, name, "--replicas", "6")
		ts := waitRunning(b, leader, name, 6, 60*time.Second)
		victim := leader
		if !killLeader {
			victim = c.anyRunning(leader)
		}
		if runningByNode(ts)[victim.Name] == 0 {
			b.Fatalf("victim %s runs no task of %s: %v", victim.Name, name, runningByNode(ts))
		}
		observer := c.anyRunning(victim)
		start := time.Now()
		victim.Die()
		waitRunning(b, observer, name, 6, 60*time.Second, victim.Name)
		samples = append(samples, time.Since(start))
		victim.Start()
		c.waitMembers(3)
		waitVoters(b, observer, 3)
		if out, err := observer.CLI("service", "rm", name); err != nil {
			b.Fatalf("service rm: %v %s", err, out)
		}
	}
	what := "node kill -9 (agent and tasks) -> its tasks running elsewhere"
	if killLeader {
		what = "leader kill -9 (agent and tasks) -> its tasks running elsewhere"
	}
	report(b, what, samples)
}

// BenchmarkCreate100 measures `service create --replicas 100` with the
// process runtime to 100 RUNNING on 3 nodes.
func BenchmarkCreate100(b *testing.B) {
	c := startCluster(b, 3, "--runtime", "process")
	var samples []time.Duration
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("hundred%d", i)
		start := time.Now()
		createService(b, c.agents[0], name, "--replicas", "100")
		waitRunning(b, c.agents[0], name, 100, 120*time.Second)
		samples = append(samples, time.Since(start))
		if out, err := c.agents[0].CLI("service", "rm", name); err != nil {
			b.Fatalf("rm: %v %s", err, out)
		}
		harness.WaitFor(b, 60*time.Second, "tasks gone", func() (bool, string) {
			n := 0
			for _, a := range c.agents {
				var nodes []api.NodeInfo
				a.get("/v1/nodes", &nodes)
				for _, x := range nodes {
					n += x.Tasks
				}
				break
			}
			return n == 0, fmt.Sprint(n)
		})
	}
	report(b, "service create --replicas 100 -> 100 running on 3 nodes", samples)
}

// BenchmarkContainers20 measures `service create --replicas 20` of a
// container image that only one of 3 nodes holds, to 20 RUNNING across
// the 3 nodes (the other two fetch it over libp2p).
func BenchmarkContainers20(b *testing.B) {
	needContainerd(b)
	var samples []time.Duration
	for i := 0; i < 3; i++ {
		samples = append(samples, containers20Once(b))
	}
	report(b, "service create --replicas 20 (image on 1 of 3 nodes) -> 20 running", samples)
}

func containers20Once(b *testing.B) time.Duration {
	c := containerCluster(b, 3) // its cleanup tears the task networks down
	defer func() {
		for _, a := range c.agents {
			a.CLI("service", "rm", "bench20")
		}
		for _, a := range c.agents {
			a.Kill()
		}
	}()
	n1 := c.agents[0]
	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil {
		b.Fatalf("image load: %v %s", err, out)
	}
	start := time.Now()
	if out, err := n1.CLI("service", "create", "bench20", "--detach", "--image", "shoal/hello:v1", "--replicas", "20", "--env", "PORT=0"); err != nil {
		b.Fatalf("create: %v %s", err, out)
	}
	ts := waitRunning(b, n1, "bench20", 20, 3*time.Minute)
	took := time.Since(start)
	if len(runningByNode(ts)) != 3 {
		b.Fatalf("not spread over 3 nodes: %v", runningByNode(ts))
	}
	return took
}
