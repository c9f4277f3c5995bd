package scale

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/node"
	"github.com/shoal-project/shoal/node/simnode"
)

var (
	scaleNodes    = flag.String("scale-nodes", "100,1000", "comma-separated simulated node counts, one run each")
	scaleTasks    = flag.Int("scale-tasks", 100000, "tasks created per run")
	scaleServices = flag.Int("scale-services", 10, "services the tasks are split over")
	scaleKill     = flag.Float64("scale-kill", 0.1, "fraction of the simulated nodes killed at once in the heal phase")
	scaleTimeout  = flag.Duration("scale-timeout", 10*time.Minute, "deadline of each phase (join, create to running, heal)")
	scaleProfile  = flag.Duration("scale-profile", 20*time.Second, "length of the leader's CPU profile under load (0: none)")
	scaleSimNice  = flag.Int("scale-sim-nice", 0, "run the simulator at this nice value beside the agents (they keep 0), so a large simulated fleet does not starve their Raft heartbeats; it starves the simulated members instead (0: same priority)")
	scaleRelaxed  = flag.Bool("scale-relaxed", false, "relaxed timings: Raft heartbeat/election/lease 1s; gossip probe 1s/500ms (agents and simulated nodes) instead of the defaults (300/300/300ms, 500/250ms)")
	scaleLogLevel = flag.String("scale-log-level", "warn", "the agents' --log-level (their logs are saved under -scale-out)")
	scaleMaxRSS   = flag.Int64("scale-max-rss", 6<<30, "abort a phase when an agent's RSS passes this many bytes (heap profiles are saved first)")
	scaleOut      = flag.String("scale-out", "/tmp/shoal-scale", "where profiles and the result table are written")
)

// Simulated nodes listen on their own loopback IPs 127.1.x.y, on these
// ports (below the harness's 20000-32000 range).
const (
	simP2PPort    = 19147
	simGossipPort = 19146
)

// result is one row of the table.
type result struct {
	nodes, tasks          int
	joinTime              time.Duration
	running               time.Duration // create -> all RUNNING (0: not reached)
	runningGot            int           // tasks RUNNING at the end of the phase
	progress              string        // RUNNING over time
	idleRSS, endRSS, hwm  int64
	idleCPU, loadCPU      float64 // leader, cores
	simCPU                float64 // this process (simulated nodes), cores during the load
	writes                []time.Duration
	writeErrs             int
	heal                  time.Duration // kill -> all RUNNING on live nodes (0: not reached)
	healDown              time.Duration // kill -> every victim down
	healGot               int
	killed                int
	profile               string
	feedBytes, feedFrames uint64
	joinFeedBytes         uint64 // of feedBytes, before the load began
	feedErrors, snapshots uint64
	reportErrors          uint64
	lastFeedErr           string
	failed                string
	relaxed               bool
	terms                 string // Raft terms during the load and the heal: leader elections
}

// BenchmarkScale runs, for each -scale-nodes N: 3 real agents, N
// simulated nodes, -scale-tasks tasks created over -scale-services
// services that only simulated nodes may run, until all are RUNNING; then
// kills -scale-kill of the simulated nodes at once and waits until all
// tasks run again. It prints a table of N against each figure.
func BenchmarkScale(b *testing.B) {
	limit := raiseFileLimit()
	if err := os.MkdirAll(*scaleOut, 0o755); err != nil {
		b.Fatal(err)
	}
	var rows []result
	for _, s := range strings.Split(*scaleNodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 10 {
			b.Fatalf("-scale-nodes: %q is not a count of at least 10", s)
		}
		if uint64(n*8+500) > limit {
			b.Logf("N=%d: %d simulated nodes need ~%d open files, the limit is %d; skipped", n, n, n*8+500, limit)
			rows = append(rows, result{nodes: n, tasks: *scaleTasks, failed: fmt.Sprintf("skipped: open-file limit %d", limit)})
			continue
		}
		r := runScale(b, n)
		rows = append(rows, r)
		printTable(os.Stdout, rows)
	}
	f, err := os.Create(filepath.Join(*scaleOut, "results.txt"))
	if err == nil {
		printTable(f, rows)
		f.Close()
	}
	fmt.Println()
	printTable(os.Stdout, rows)
	for _, r := range rows {
		if r.failed != "" && !strings.HasPrefix(r.failed, "skipped") {
			b.Errorf("N=%d: %s", r.nodes, r.failed)
		}
	}
}

func printTable(w io.Writer, rows []result) {
	fmt.Fprintf(w, "\n%-6s %-7s %-9s %-12s %-10s %-10s %-10s %-10s %-10s %-10s %-10s %-12s %-10s\n",
		"N", "tasks", "join(s)", "->RUNNING(s)", "idleRSS", "idleCPU", "endRSS", "peakRSS", "loadCPU", "simCPU", "write p99", "heal 10%(s)", "down(s)")
	for _, r := range rows {
		run := "-"
		if r.running > 0 {
			run = fmt.Sprintf("%.1f", r.running.Seconds())
		} else if r.tasks > 0 && r.failed != "" && !strings.HasPrefix(r.failed, "skipped") {
			run = fmt.Sprintf(">%s(%d)", shortDur(*scaleTimeout), r.runningGot)
		}
		heal := "-"
		if r.heal > 0 {
			heal = fmt.Sprintf("%.1f", r.heal.Seconds())
		} else if r.killed > 0 {
			heal = fmt.Sprintf(">%s(%d)", shortDur(*scaleTimeout), r.healGot)
		}
		fmt.Fprintf(w, "%-6d %-7d %-9.1f %-12s %-10s %-10s %-10s %-10s %-10s %-10s %-10s %-12s %-10s\n",
			r.nodes, r.tasks, r.joinTime.Seconds(), run,
			fmt.Sprintf("%.0fMB", mb(r.idleRSS)), fmt.Sprintf("%.2f", r.idleCPU),
			fmt.Sprintf("%.0fMB", mb(r.endRSS)), fmt.Sprintf("%.0fMB", mb(r.hwm)),
			fmt.Sprintf("%.2f", r.loadCPU), fmt.Sprintf("%.2f", r.simCPU),
			p99(r.writes), heal, fmt.Sprintf("%.1f", r.healDown.Seconds()))
	}
	for _, r := range rows {
		loadBytes := r.feedBytes - min(r.joinFeedBytes, r.feedBytes)
		fmt.Fprintf(w, "N=%d: relaxed timings %v, Raft term %s; writes=%d (errors %d) p50=%s p99=%s max=%s; feed: %d frames %.0f MB (%.0f MB before the load, %.0f MB in it: %.0f bytes per task per member), %d snapshots, %d errors (last: %s); report errors %d; profile %s\n",
			r.nodes, r.relaxed, r.terms, len(r.writes), r.writeErrs, pct(r.writes, 50), p99(r.writes), pct(r.writes, 100),
			r.feedFrames, float64(r.feedBytes)/(1<<20), float64(r.joinFeedBytes)/(1<<20), float64(loadBytes)/(1<<20),
			float64(loadBytes)/float64(max(r.tasks*r.nodes, 1)), r.snapshots, r.feedErrors, r.lastFeedErr, r.reportErrors, r.profile)
		if r.progress != "" {
			fmt.Fprintf(w, "N=%d: assigned/RUNNING over time: %s\n", r.nodes, r.progress)
		}
		if r.failed != "" {
			fmt.Fprintf(w, "N=%d: FAILED: %s\n", r.nodes, r.failed)
		}
	}
}

func shortDur(d time.Duration) string { return strings.TrimSuffix(d.String(), "0s") }

func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	i = min(max(i-1, 0), len(s)-1)
	return fmt.Sprintf("%.0fms", float64(s[i])/float64(time.Millisecond))
}

func p99(ds []time.Duration) string { return pct(ds, 99) }

// cluster is the three real agents of one run.
type cluster struct {
	agents []*harness.Agent
	token  string
	pprof  map[string]string // agent name -> pprof address
	pids   map[string]int
}

func call(a *harness.Agent, timeout time.Duration, method, path string, body, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return a.Do(ctx, method, path, body, v)
}

// startAgents bootstraps n1 and joins n2 and n3, each with the pprof
// endpoint, and waits for three voters. The voter policy keeps 3 voters
// however many nodes join (simulated nodes never become voters: they serve
// no Raft).
func startAgents(b *testing.B, dir string) *cluster {
	cfgPath := filepath.Join(dir, "agent.toml")
	// The tasks of a scale run are past the default limits on purpose,
	// and its nodes past the 256 /24s of the default task network.
	conf := "cluster_cidr = \"10.0.0.0/8\"\nservice_cidr = \"172.31.0.0/16\"\n[voters]\ntarget = 3\nlarge = 3\n[limits]\nmax_tasks = 0\n"
	if *scaleRelaxed {
		conf += "[raft]\nheartbeat_timeout = \"1s\"\nelection_timeout = \"1s\"\nleader_lease_timeout = \"1s\"\n" +
			"[gossip]\nprobe_interval = \"1s\"\nprobe_timeout = \"500ms\"\n"
	}
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	c := &cluster{pprof: map[string]string{}}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("n%d", i)
		a := harness.NewAgent(b, shoalBin, name, filepath.Join(dir, name), "--config", cfgPath, "--log-level", *scaleLogLevel)
		c.pprof[name] = fmt.Sprintf("127.0.0.1:%d", harness.FreePort(b))
		os.Setenv("SHOAL_PPROF_ADDR", c.pprof[name]) // inherited by the agent started next
		if i == 1 {
			a.Start("--bootstrap")
			harness.WaitFor(b, 30*time.Second, "bootstrap leader", func() (bool, string) {
				st, err := a.Status(2 * time.Second)
				if err != nil {
					return false, err.Error()
				}
				return st.Leader == name, fmt.Sprintf("%+v", st)
			})
			var tok api.TokenResponse
			if err := call(a, 5*time.Second, http.MethodGet, "/v1/token", nil, &tok); err != nil {
				b.Fatal(err)
			}
			c.token = tok.Token
		} else {
			a.Start("--join", c.agents[0].P2PAddr(), "--token", c.token)
		}
		c.agents = append(c.agents, a)
	}
	os.Unsetenv("SHOAL_PPROF_ADDR")
	harness.WaitFor(b, 60*time.Second, "3 voters", func() (bool, string) {
		st, err := c.agents[0].Status(2 * time.Second)
		if err != nil {
			return false, err.Error()
		}
		return len(st.Voters) == 3, fmt.Sprintf("voters=%v", st.Voters)
	})
	return c
}

// leader is the agent that leads, as n1..n3 agree.
func (c *cluster) leader(b *testing.B) *harness.Agent {
	var found *harness.Agent
	harness.WaitFor(b, 30*time.Second, "an agreed leader", func() (bool, string) {
		names := map[string]bool{}
		for _, a := range c.agents {
			st, err := a.Status(5 * time.Second)
			if err != nil {
				return false, err.Error()
			}
			names[st.Leader] = true
		}
		if len(names) != 1 || names[""] {
			return false, fmt.Sprintf("leaders seen: %v", names)
		}
		for _, a := range c.agents {
			if names[a.Name] {
				found = a
			}
		}
		return found != nil, ""
	})
	return found
}

// stop kills the agents and saves their logs under -scale-out.
func (c *cluster) stop(n int) {
	for _, a := range c.agents {
		a.Die()
		os.WriteFile(filepath.Join(*scaleOut, fmt.Sprintf("N%d-%s.log", n, a.Name)), []byte(a.Log()), 0o644)
	}
}

// poll is harness.Poll at a gentler pace: GET /v1/services scans every
// task on the leader, which must not become part of the load.
func poll(timeout time.Duration, what string, cond func() (bool, string)) (time.Duration, error) {
	return harness.PollEvery(250*time.Millisecond, timeout, what, cond)
}

// guardRSS fails when an agent's RSS passes -scale-max-rss, after saving
// heap profiles of all three: the machine must not run out of memory.
func (c *cluster) guardRSS(b *testing.B, n int) error {
	if c.pids == nil {
		c.pids = map[string]int{}
		for _, a := range c.agents {
			c.pids[a.Name] = agentPID(b, a)
		}
	}
	for _, a := range c.agents {
		s, err := sampleProc(c.pids[a.Name])
		if err == nil && s.rss > *scaleMaxRSS {
			c.heapProfiles(n, "rss-guard")
			return fmt.Errorf("aborted: %s's RSS is %.0f MB, over -scale-max-rss", a.Name, mb(s.rss))
		}
	}
	return nil
}

// heapProfiles saves a heap profile of every agent under -scale-out.
func (c *cluster) heapProfiles(n int, when string) {
	client := &http.Client{Timeout: 60 * time.Second}
	for _, a := range c.agents {
		resp, err := client.Get("http://" + c.pprof[a.Name] + "/debug/pprof/heap")
		if err != nil {
			continue
		}
		f, err := os.Create(filepath.Join(*scaleOut, fmt.Sprintf("heap-N%d-%s-%s.pb.gz", n, a.Name, when)))
		if err == nil {
			io.Copy(f, resp.Body)
			f.Close()
		}
		resp.Body.Close()
	}
}

// agentPID is the PID of a's agent process.
func agentPID(b *testing.B, a *harness.Agent) int {
	for _, p := range harness.ProcsUnder(a.DataDir) {
		if strings.Contains(p.Cmdline, " agent ") {
			return p.PID
		}
	}
	b.Fatalf("no agent process for %s", a.Name)
	return 0
}

// simGossipTimings are the gossip timings of n simulated nodes. N real
// nodes each spend their own core on gossip; N simulated ones share two
// with the agents, and the epidemic of N joins costs N² × RetransmitMult ×
// log N sends (with 400 simulated nodes at the defaults, the simulator
// spent a core on it and its members began to flap). So each broadcast is
// retransmitted a third as often and gossiped in fewer, fuller packets;
// memberlist's push-pull repairs what a shorter epidemic misses. On a
// saturated machine a simulated member answers a probe late, not never,
// and a late answer should not start a suspicion that all members then
// spread: probes get most of the interval to answer. A member that is gone
// fails any timeout, and the suspicion it starts is timed by the agents,
// whose timings are the defaults (or -scale-relaxed's): every member that
// hears a suspicion runs its own timer, and the first to expire declares
// the member dead. Past 250 simulated nodes each probes less often, so
// that all of them together probe as often as 250 do: a member that is
// gone is then first probed later (about 250 probe intervals after it
// went, on average, rather than one), which the heal figures of those
// runs include.
func simGossipTimings(n int) gossip.Timings {
	t := gossip.LANTimings()
	if *scaleRelaxed {
		t.ProbeInterval = time.Second
	}
	t.ProbeInterval *= time.Duration(max(1, (n+249)/250))
	t.ProbeTimeout = t.ProbeInterval * 9 / 10
	t.SuspicionMult = 4
	t.RetransmitMult = 1
	t.GossipInterval = 300 * time.Millisecond
	return t
}

// simIP is the loopback IP of simulated node i.
func simIP(i int) string { return fmt.Sprintf("127.1.%d.%d", i/250, i%250+1) }

// startSims starts n simulated nodes, a few joins at a time (each member
// admits ~5 unknown peers a second for the handshake).
func startSims(b *testing.B, c *cluster, n int) ([]*simnode.Node, error) {
	tok, err := node.ParseJoinToken(c.token)
	if err != nil {
		b.Fatal(err)
	}
	var seeds []simnode.Seed
	for _, a := range c.agents {
		seeds = append(seeds, simnode.Seed{P2PAddr: a.P2PAddr(), GossipAddr: fmt.Sprintf("127.0.0.1:%d", a.GossipPort)})
	}
	sims := make([]*simnode.Node, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithTimeout(context.Background(), *scaleTimeout)
	defer cancel()
	var joined atomic.Int64
	start := time.Now()
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				s, err := simnode.Start(ctx, simnode.Config{
					Name: fmt.Sprintf("sim-%05d", i), IP: simIP(i), P2PPort: simP2PPort, GossipPort: simGossipPort,
					Seeds: seeds, SeedOffset: i, Token: tok,
					Labels:      map[string]string{"sim": "1"},
					Resources:   api.Resources{NanoCPUs: 64e9, MemoryBytes: 256 << 30},
					JoinTimeout: *scaleTimeout,
					Gossip:      simGossipTimings(n),
				})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
				sims[i] = s
				if k := joined.Add(1); k%100 == 0 {
					fmt.Printf("  %d/%d simulated nodes joined (%.0fs)\n", k, n, time.Since(start).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return sims, firstErr
	}
	return sims, nil
}

func killAll(sims []*simnode.Node) {
	var wg sync.WaitGroup
	for _, s := range sims {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.Kill() }()
	}
	wg.Wait()
}

// runningCount sums the RUNNING tasks of the load services.
func runningCount(a *harness.Agent) (int, error) {
	var svcs []api.ServiceInfo
	if err := call(a, 30*time.Second, http.MethodGet, "/v1/services", nil, &svcs); err != nil {
		return 0, err
	}
	n := 0
	for _, s := range svcs {
		if strings.HasPrefix(s.Spec.Name, "load-") {
			n += int(s.Running)
		}
	}
	return n, nil
}

func loadSpec(name string, replicas uint64) api.ServiceSpec {
	c, _ := api.ParseConstraint("node.labels.sim==1")
	return api.ServiceSpec{Name: name, Runtime: "process", Command: []string{"/bin/sleep", "infinity"},
		Mode: api.ModeReplicated, Replicas: replicas, Constraints: []api.Constraint{c},
		Restart: api.RestartPolicy{Condition: api.RestartAny}}
}

func runScale(b *testing.B, n int) (r result) {
	r = result{nodes: n, tasks: *scaleTasks, relaxed: *scaleRelaxed}
	term := func(a *harness.Agent) uint64 {
		st, err := a.Status(10 * time.Second)
		if err != nil {
			return 0
		}
		return st.Term
	}
	fmt.Printf("==== N=%d simulated nodes, %d tasks over %d services (relaxed timings: %v)\n", n, *scaleTasks, *scaleServices, *scaleRelaxed)
	dir, err := os.MkdirTemp("", fmt.Sprintf("shoal-scale-%d-", n))
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	c := startAgents(b, dir)
	defer c.stop(n)
	if *scaleSimNice > 0 {
		if err := setNice(*scaleSimNice); err != nil {
			fmt.Printf("  the simulator keeps the agents' priority: %v\n", err)
		}
		defer func() {
			if err := setNice(0); err != nil {
				fmt.Printf("  the next agents start at the simulator's priority: %v\n", err)
			}
		}()
	}
	var sims []*simnode.Node
	defer func() { killAll(sims) }()

	// Join.
	start := time.Now()
	sims, err = startSims(b, c, n)
	if err != nil {
		r.failed = fmt.Sprintf("simulated nodes did not join: %v", err)
		return r
	}
	leader := c.leader(b)
	if _, err := poll(*scaleTimeout, fmt.Sprintf("%d ready nodes and every simulated node on the feed", n+3), func() (bool, string) {
		var nodes []api.NodeInfo
		if err := call(leader, 30*time.Second, http.MethodGet, "/v1/nodes", nil, &nodes); err != nil {
			return false, err.Error()
		}
		ready := 0
		for _, nd := range nodes {
			if nd.Status == api.NodeReady {
				ready++
			}
		}
		following := 0
		for _, s := range sims {
			if s.Following() {
				following++
			}
		}
		return ready == n+3 && following == n, fmt.Sprintf("%d of %d nodes ready, %d of %d simulated nodes on the feed", ready, len(nodes), following, n)
	}); err != nil {
		r.failed = err.Error()
		return r
	}
	r.joinTime = time.Since(start)
	fmt.Printf("  joined in %.1fs; leader %s\n", r.joinTime.Seconds(), leader.Name)

	// An unrelated service whose label the latency probe updates.
	probe := loadSpec("probe", 0)
	probe.Constraints = nil
	if err := call(leader, 30*time.Second, http.MethodPost, "/v1/services", probe, nil); err != nil {
		r.failed = "create probe service: " + err.Error()
		return r
	}

	// Idle figures, over a 5 s window.
	pid := agentPID(b, leader)
	idle0, err := sampleProc(pid)
	if err != nil {
		b.Fatal(err)
	}
	time.Sleep(5 * time.Second) // a measurement window, not a wait for a condition
	idle1, _ := sampleProc(pid)
	r.idleRSS, r.idleCPU = idle1.rss, cores(idle0, idle1)

	// Load: create the services, probe write latency, profile the leader,
	// poll until all tasks are RUNNING.
	term0 := term(leader)
	defer func() { r.terms = fmt.Sprintf("%d->%d", term0, term(c.agents[1])) }()
	r.joinFeedBytes = feedBytesOf(sims)
	load0, _ := sampleProc(pid)
	sim0 := selfCPU()
	t0 := time.Now()
	stopProbe := make(chan struct{})
	var probeWG sync.WaitGroup
	probeWG.Add(1)
	go func() {
		defer probeWG.Done()
		for i := 0; ; i++ {
			select {
			case <-stopProbe:
				return
			case <-time.After(100 * time.Millisecond):
			}
			spec := probe
			spec.Labels = map[string]string{"seq": strconv.Itoa(i)}
			ws := time.Now()
			err := call(leader, 30*time.Second, http.MethodPost, "/v1/services/probe", api.ServiceUpdateRequest{Spec: &spec}, nil)
			if err != nil {
				r.writeErrs++
				continue
			}
			r.writes = append(r.writes, time.Since(ws))
		}
	}()
	if *scaleProfile > 0 {
		probeWG.Add(1)
		go func() {
			defer probeWG.Done()
			r.profile = profileLeader(c, leader, n, *scaleProfile)
		}()
	}
	per := *scaleTasks / *scaleServices
	for i := 0; i < *scaleServices; i++ {
		reps := per
		if i == *scaleServices-1 {
			reps = *scaleTasks - per*(*scaleServices-1)
		}
		if err := call(leader, 60*time.Second, http.MethodPost, "/v1/services", loadSpec(fmt.Sprintf("load-%d", i), uint64(reps)), nil); err != nil {
			r.failed = fmt.Sprintf("create load-%d: %v", i, err)
			close(stopProbe)
			probeWG.Wait()
			return r
		}
	}
	fmt.Printf("  %d services created in %.1fs\n", *scaleServices, time.Since(t0).Seconds())
	var progress []string
	lastMark := time.Now()
	var peakHWM int64
	var aborted error
	_, err = poll(*scaleTimeout, fmt.Sprintf("%d tasks RUNNING", *scaleTasks), func() (bool, string) {
		got, err := runningCount(leader)
		if err != nil {
			return false, err.Error()
		}
		r.runningGot = got
		if time.Since(lastMark) >= 5*time.Second {
			lastMark = time.Now()
			assigned := 0
			for _, s := range sims {
				assigned += s.Stats().Assigned
			}
			progress = append(progress, fmt.Sprintf("%.0fs:%d/%d", time.Since(t0).Seconds(), assigned, got))
			pl, commits, sum := leaderMetrics(leader)
			fmt.Printf("  %.0fs: %d/%d assigned (as the simulated nodes see it; the leader placed %.0f), %d RUNNING; %.0f commits, mean %.0f ms\n",
				time.Since(t0).Seconds(), assigned, *scaleTasks, pl, got, commits, 1000*sum/max(commits, 1))
		}
		if s, err := sampleProc(pid); err == nil {
			peakHWM = max(peakHWM, s.hwm)
		}
		if err := c.guardRSS(b, n); err != nil {
			aborted = err
			return true, ""
		}
		return got == *scaleTasks, fmt.Sprintf("%d of %d RUNNING", got, *scaleTasks)
	})
	if aborted != nil {
		err = aborted
	} else {
		c.heapProfiles(n, "end-of-load")
	}
	load1, _ := sampleProc(pid)
	sim1 := selfCPU()
	r.progress = strings.Join(progress, " ")
	r.endRSS, r.hwm, r.loadCPU = load1.rss, max(peakHWM, load1.hwm), cores(load0, load1)
	r.simCPU = float64(sim1-sim0) / float64(load1.at.Sub(load0.at))
	close(stopProbe)
	probeWG.Wait()
	r.collectSims(sims)
	if err != nil {
		r.failed = err.Error()
		return r
	}
	r.running = load1.at.Sub(t0)
	fmt.Printf("  all %d RUNNING in %.1fs\n", *scaleTasks, r.running.Seconds())

	// Heal: kill a fraction of the simulated nodes at once.
	var victims []*simnode.Node
	step := int(1 / *scaleKill)
	for i := 0; i < n; i += max(step, 1) {
		victims = append(victims, sims[i])
	}
	r.killed = len(victims)
	victimNames := map[string]bool{}
	for _, v := range victims {
		victimNames[v.Name()] = true
	}
	t1 := time.Now()
	killAll(victims)
	fmt.Printf("  killed %d simulated nodes in %.1fs\n", len(victims), time.Since(t1).Seconds())
	_, err = poll(*scaleTimeout, "every task RUNNING on a live node", func() (bool, string) {
		var nodes []api.NodeInfo
		if err := call(leader, 30*time.Second, http.MethodGet, "/v1/nodes", nil, &nodes); err != nil {
			return false, err.Error()
		}
		down, stranded := 0, 0
		for _, nd := range nodes {
			if victimNames[nd.Name] {
				if nd.Status == api.NodeDown {
					down++
				}
				stranded += nd.Tasks
			}
		}
		if down == len(victims) && r.healDown == 0 {
			r.healDown = time.Since(t1)
		}
		got, err := runningCount(leader)
		if err != nil {
			return false, err.Error()
		}
		r.healGot = got
		if err := c.guardRSS(b, n); err != nil {
			return false, err.Error()
		}
		return down == len(victims) && stranded == 0 && got == *scaleTasks,
			fmt.Sprintf("%d of %d victims down, %d tasks still on them, %d of %d RUNNING", down, len(victims), stranded, got, *scaleTasks)
	})
	if err != nil {
		r.failed = err.Error()
		return r
	}
	r.heal = time.Since(t1)
	fmt.Printf("  healed in %.1fs (victims down after %.1fs)\n", r.heal.Seconds(), r.healDown.Seconds())
	return r
}

// feedBytesOf sums the feed bytes the simulated nodes have read so far.
func feedBytesOf(sims []*simnode.Node) uint64 {
	var b uint64
	for _, s := range sims {
		if s != nil {
			b += s.Stats().FrameBytes
		}
	}
	return b
}

// collectSims sums the simulated nodes' feed and report counters.
func (r *result) collectSims(sims []*simnode.Node) {
	for _, s := range sims {
		if s == nil {
			continue
		}
		st := s.Stats()
		r.feedBytes += st.FrameBytes
		r.feedFrames += st.Frames
		r.feedErrors += st.FeedErrors
		r.snapshots += st.Snapshots
		r.reportErrors += st.ReportErrors
		if st.LastFeedError != "" {
			r.lastFeedErr = st.LastFeedError
		}
	}
}

// profileLeader takes a CPU profile of the leader and returns its path.
func profileLeader(c *cluster, leader *harness.Agent, n int, d time.Duration) string {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", c.pprof[leader.Name], int(d.Seconds()))
	client := &http.Client{Timeout: d + 30*time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "failed: " + err.Error()
	}
	defer resp.Body.Close()
	path := filepath.Join(*scaleOut, fmt.Sprintf("leader-cpu-N%d.pb.gz", n))
	f, err := os.Create(path)
	if err != nil {
		return "failed: " + err.Error()
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		return "failed: " + err.Error()
	}
	return path
}

// leaderMetrics reads a few counters from the leader's /metrics: the
// placements so far, and the Raft commit latency's count and sum, so a
// progress line says how far the leader is ahead of its members.
func leaderMetrics(a *harness.Agent) (placements, commits, commitSum float64) {
	resp, err := a.HTTP().Get(a.URL("/metrics"))
	if err != nil {
		return
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "shoal_scheduler_placements_total":
			placements = v
		case "shoal_raft_commit_latency_seconds_count":
			commits = v
		case "shoal_raft_commit_latency_seconds_sum":
			commitSum = v
		}
	}
	return
}
