package chaos

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/shoal-project/shoal/integration/harness"
)

// Bounds the invariants are held to.
const (
	convergeBound     = 10 * time.Second // services converge after the last heal
	failureDetection  = 3 * time.Second  // a slot may run twice this long
	linCheckTimeout   = 30 * time.Second // porcupine's budget
	restartBound      = 30 * time.Second // the whole cluster back after a restart
	goroutineSlack    = 3
	fdSlack           = 3
	finalReadDeadline = 10 * time.Second
)

// TestChaos runs the seeded fault schedule against a 5-node cluster under
// a client workload and checks the invariants (see the package doc); its
// partitions go through the agents' fault API (rootless).
// `go test ./integration/chaos/` runs it with seed 1 for 45s; `make chaos
// SEED=N DURATION=60s` picks the seed and length.
func TestChaos(t *testing.T) {
	seed, duration := *seedFlag, *durationFlag
	c := newCluster(t, t.TempDir(), 5)
	t.Cleanup(c.killAll)
	run := chaosRun{title: "chaos", seed: seed, duration: duration, net: faultAPI{c},
		sched: makeSchedule(seed, duration, c.names()),
		rerun: fmt.Sprintf("make chaos SEED=%d DURATION=%s", seed, duration)}
	var why string
	if run.disk, why = mountTmpfs(t, c.byName(diskNode).DataDir); run.disk == nil {
		run.notes = append(run.notes, fmt.Sprintf("not done: full disk (%s)", why))
	}
	run.notes = append(run.notes, "not done: clock skew (faketime is not installed)")
	runChaos(t, c, run)
}

// chaosRun is what differs between the chaos tests: the schedule, how
// partitions are made, the full-disk fault and how to rerun.
type chaosRun struct {
	title    string // names the run in the summary line
	seed     int64
	duration time.Duration
	sched    schedule
	net      partitioner
	disk     *tmpfsDisk // nil: the full-disk rounds are skipped
	notes    []string   // faults not done, for the report
	rerun    string     // the command that replays the run
}

// killAll kills every agent and its workloads (a test's cleanup).
func (c *cluster) killAll() {
	for _, a := range c.agents {
		a.resume()
		a.Kill()
		harness.KillUnder(a.DataDir)
	}
}

// runChaos starts c, runs the schedule under the workload and checks and
// reports the invariants.
func runChaos(t *testing.T, c *cluster, run chaosRun) {
	seed, duration, sched := run.seed, run.duration, run.sched
	baseGoroutines, baseFDs := runtime.NumGoroutine(), openFDs()
	runStart := time.Now()
	logf := func(format string, args ...any) {
		fmt.Printf("[%6.2fs] %s\n", time.Since(runStart).Seconds(), fmt.Sprintf(format, args...))
	}
	rep := &report{}
	for _, n := range run.notes {
		rep.note("%s", n)
	}
	fmt.Print(sched.String())

	c.start()
	logf("cluster of %d nodes ready (3 voters)", len(c.agents))
	h := newHistory()
	w := newWorkload(c, h, seed)
	if err := w.setup(); err != nil {
		t.Fatal(err)
	}

	monCtx, stopMonitors := context.WithCancel(context.Background())
	lw := newLeaderWatch(c, runStart)
	sw := newSlotWatch(c, lw)
	var monWG sync.WaitGroup
	monWG.Add(2)
	go func() { defer monWG.Done(); lw.run(monCtx) }()
	go func() { defer monWG.Done(); sw.run(monCtx) }()

	stop := make(chan struct{})
	workDone := make(chan struct{})
	go func() { w.run(stop); close(workDone) }()

	inj := newInjector(c, time.Now(), run.disk, run.net, logf)
	// At the last heal the workload winds down, and convergence is timed
	// from the heal while the last round's gap runs.
	var convErr error
	var convergedIn time.Duration
	convDone := make(chan struct{})
	inj.onLastHeal = func() {
		healAt := time.Now()
		close(stop)
		go func() {
			defer close(convDone)
			<-workDone
			logf("workload stopped %.2fs after the last heal; %d operations recorded", time.Since(healAt).Seconds(), len(h.snapshot()))
			_, convErr = harness.Poll(30*time.Second, "convergence", c.converged)
			convergedIn = time.Since(healAt)
			logf("converged: %v (%.2fs after the last heal)", convErr == nil, convergedIn.Seconds())
		}()
	}
	inj.runAll(sched)
	<-convDone
	crashed := append(inj.crashes, c.restartCrashed(logf)...)
	stopMonitors()
	monWG.Wait()

	// Final consistent reads of every key on every node.
	readFails := finalReads(c, h, logf)
	lin := checkLinearizable(h.snapshot(), linCheckTimeout)
	lostMarkers, acked := w.lostMarkers(c)

	// Restart everything on the same data dirs.
	restartErr, restartTook := c.restartAll(logf)
	// Tear down and look for leaks.
	leaked := c.teardown(logf)
	for _, a := range c.agents {
		a.HTTP().CloseIdleConnections()
	}
	goroutines, fds := settle(baseGoroutines, baseFDs)

	// The report.
	rep.add("linearizable service specs", lin.Result != porcupine.Illegal, "%s over %d ops (%d unknown outcomes)%s",
		linVerdict(lin.Result), lin.Ops, lin.Unknown, listIf(" non-linearizable keys: ", lin.BadKeys))
	rep.add("consistent reads answer on every node after healing", len(readFails) == 0,
		"%d of %d final reads failed within %s%s", len(readFails), len(c.agents)*len(kvKeys), finalReadDeadline, listIf(": ", readFails))
	rep.add("acknowledged writes present after healing", len(lostMarkers) == 0 && len(lin.LostKeys) == 0,
		"%d of %d acknowledged marker creates lost%s; %d keys lost an acked write%s", len(lostMarkers), acked,
		listIf(": ", lostMarkers), len(lin.LostKeys), listIf(": ", lin.LostKeys))
	strong, weak := lw.splitBrain()
	terms, samples := lw.stats()
	rep.add("at most one leader per term", len(strong)+len(weak) == 0, "%d terms with a leader over %d status samples; %d split (both self-claimed), %d split as reported by others",
		terms, samples, len(strong), len(weak))
	rep.add(fmt.Sprintf("services converge within %s of the last heal", convergeBound), convErr == nil && convergedIn <= convergeBound,
		"%s", convergeDetail(convErr, convergedIn))
	nDup, longest, worst, slotSamples := sw.result()
	rep.add(fmt.Sprintf("no slot runs twice longer than %s", failureDetection), longest <= failureDetection,
		"%d doubled slots in %d samples, longest %.2fs %s", nDup, slotSamples, longest.Seconds(), worst)
	rep.add("no agent exited on its own", len(crashed) == 0, "%s", orNone(crashed))
	rep.add("every node restarts cleanly on its data dir", restartErr == nil, "%s", restartDetail(restartErr, restartTook))
	rep.add("no shoal or workload process left", len(leaked) == 0, "%s", orNone(leaked))
	rep.add("test goroutines back to baseline", goroutines <= baseGoroutines+goroutineSlack, "%d now, %d at start", goroutines, baseGoroutines)
	rep.add("open fds back to baseline", fds <= baseFDs+fdSlack, "%d now, %d at start", fds, baseFDs)

	med, mx := medianMax(inj.recoveries)
	fmt.Printf("\n==== %s seed=%d duration=%s: %d rounds, faults: %s\n", run.title, seed, duration, len(sched.Rounds), faultsByKind(inj.injected, inj.skipped))
	fmt.Printf("recovery (heal → one leader, 3 voters, all nodes ready): median %.2fs, max %.2fs over %d rounds; not healthy within the gap: rounds %v\n",
		med.Seconds(), mx.Seconds(), len(inj.recoveries), inj.notRecovered)
	fmt.Printf("after the last heal: converged in %s\n", convergeDetail(convErr, convergedIn))
	fmt.Printf("workload: %s\n", opCounts(w.counts))
	for _, o := range w.oddities {
		fmt.Printf("unexpected answer: %s\n", o)
	}
	for _, tr := range inj.troubles {
		fmt.Printf("trouble: %s\n", tr)
	}
	for _, s := range append(strong, weak...) {
		fmt.Printf("split brain: %s\n", s)
	}
	for _, k := range lin.BadKeys {
		fmt.Printf("history of %s:\n%s", k, describeKey(h.snapshot(), k))
	}
	if lin.Result == porcupine.Illegal {
		if f, ferr := os.CreateTemp("", fmt.Sprintf("chaos-seed%d-*.html", seed)); ferr == nil {
			porcupine.Visualize(kvModel, lin.Info, f)
			f.Close()
			fmt.Printf("linearizability visualization: %s\n", f.Name())
		}
	}
	fmt.Println()
	rep.table(os.Stdout)
	if bad := rep.failed(); len(bad) > 0 {
		if dir, err := c.saveLogs(fmt.Sprintf("shoal-chaos-seed%d-", seed)); err == nil {
			fmt.Printf("agent logs: %s\n", dir)
		}
		t.Errorf("seed %d violated %d invariants (rerun: %s):\n  %s", seed, len(bad), run.rerun, strings.Join(bad, "\n  "))
	}
}

func linVerdict(r porcupine.CheckResult) string {
	switch r {
	case porcupine.Ok:
		return "linearizable"
	case porcupine.Illegal:
		return "NOT linearizable"
	}
	return "inconclusive (checker timed out)"
}

func listIf(prefix string, xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return prefix + strings.Join(xs, ", ")
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, "; ")
}

func convergeDetail(err error, took time.Duration) string {
	if err != nil {
		return "did not converge: " + err.Error()
	}
	return fmt.Sprintf("%.2fs after the last heal (replicas and host processes)", took.Seconds())
}

func restartDetail(err error, took time.Duration) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("SIGTERM all, restart all: same cluster ID and services, converged in %.2fs", took.Seconds())
}

// finalReads reads every key consistently on every node (all at once,
// each retried until finalReadDeadline) and records the reads as final; it
// returns the reads that never succeeded.
func finalReads(c *cluster, h *history, logf func(string, ...any)) []string {
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for i, a := range c.agents {
		for _, k := range kvKeys {
			wg.Add(1)
			go func(i int, a *agent, k string) {
				defer wg.Done()
				in := kvInput{Key: k, Kind: opRead}
				_, err := harness.Poll(finalReadDeadline, "a final read", func() (bool, string) {
					call := h.now()
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
					defer cancel()
					v, err := readKey(ctx, a, k)
					if err != nil {
						return false, err.Error()
					}
					h.add(100+i, a.Name, in, kvOutput{Result: resOK, Value: v}, call, true)
					return true, ""
				})
				if err != nil {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s on %s", k, a.Name))
					mu.Unlock()
					logf("final read of %s on %s failed: %v", k, a.Name, err)
				}
			}(i, a, k)
		}
	}
	wg.Wait()
	sort.Strings(failed)
	return failed
}

// settle waits for the goroutine and fd counts to come back near their
// baselines and returns the last counts.
func settle(baseG, baseF int) (int, int) {
	g, f := 0, 0
	harness.Poll(10*time.Second, "goroutines and fds to settle", func() (bool, string) {
		runtime.GC()
		g, f = runtime.NumGoroutine(), openFDs()
		return g <= baseG+goroutineSlack && f <= baseF+fdSlack, ""
	})
	return g, f
}
