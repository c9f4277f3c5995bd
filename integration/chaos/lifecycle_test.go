package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/shoal-project/shoal/integration/harness"
)

// restartCrashed restarts every agent that exited although the test did
// not stop it, and describes each.
func (c *cluster) restartCrashed(logf func(string, ...any)) []string {
	var out []string
	for _, a := range c.agents {
		if a.Running() {
			continue
		}
		code, exited := a.ExitCode(0)
		if !exited {
			code = -1
		}
		msg := fmt.Sprintf("%s exited (code %d); last output:\n%s", a.Name, code, a.lastWords())
		logf("CRASH: %s", msg)
		out = append(out, msg)
		a.Start()
	}
	return out
}

// stopAll sends SIGTERM to every agent at once and waits; it lists the
// agents that did not exit within timeout.
func (c *cluster) stopAll(timeout time.Duration) []string {
	var mu sync.Mutex
	var slow []string
	var wg sync.WaitGroup
	for _, a := range c.agents {
		wg.Add(1)
		go func(a *agent) {
			defer wg.Done()
			if !a.Stop(timeout) {
				mu.Lock()
				slow = append(slow, a.Name)
				mu.Unlock()
			}
		}(a)
	}
	wg.Wait()
	return slow
}

// restartAll stops every agent with SIGTERM, starts them all again on
// their data dirs, and checks that the same cluster with the same
// services comes back and converges.
func (c *cluster) restartAll(logf func(string, ...any)) (error, time.Duration) {
	l := c.waitLeader(10 * time.Second)
	if l == nil {
		return fmt.Errorf("no leader before the restart"), 0
	}
	before, err := l.status(2 * time.Second)
	if err != nil {
		return err, 0
	}
	svcs, err := c.serviceVersions()
	if err != nil {
		return err, 0
	}
	if slow := c.stopAll(20 * time.Second); len(slow) > 0 {
		return fmt.Errorf("agents did not exit within 20s of SIGTERM: %v", slow), 0
	}
	start := time.Now()
	for _, a := range c.agents {
		a.Start()
	}
	if _, err := harness.Poll(restartBound, "the restarted cluster to be healthy", c.healthy); err != nil {
		for _, a := range c.agents {
			if _, serr := a.status(time.Second); serr != nil {
				err = fmt.Errorf("%w\n%s (%v):\n%s", err, a.Name, serr, a.lastWords())
			}
		}
		return err, time.Since(start)
	}
	after, err := c.selfLeader().status(2 * time.Second)
	if err != nil {
		return err, time.Since(start)
	}
	if after.ClusterID != before.ClusterID {
		return fmt.Errorf("cluster ID changed across the restart: %s → %s", before.ClusterID, after.ClusterID), time.Since(start)
	}
	again, err := c.serviceVersions()
	if err != nil {
		return err, time.Since(start)
	}
	if !reflect.DeepEqual(svcs, again) {
		return fmt.Errorf("services changed across the restart: %v → %v", svcs, again), time.Since(start)
	}
	if _, err := harness.Poll(30*time.Second, "convergence after the restart", c.converged); err != nil {
		return err, time.Since(start)
	}
	logf("restart: same cluster %s and %d services, converged %.2fs after the start", api8(after.ClusterID), len(again), time.Since(start).Seconds())
	return nil, time.Since(start)
}

// teardown removes every service, waits for its processes to end, stops
// the agents, and lists any process of the cluster that is left (and
// kills it).
func (c *cluster) teardown(logf func(string, ...any)) []string {
	var leaked []string
	if l := c.waitLeader(10 * time.Second); l != nil {
		svcs, _ := c.serviceVersions()
		cl := l.client("teardown")
		for name := range svcs {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := cl.RemoveService(ctx, name); err != nil {
				leaked = append(leaked, fmt.Sprintf("removing %s: %v", name, err))
			}
			cancel()
		}
		if _, err := harness.Poll(20*time.Second, "every workload process to end", func() (bool, string) {
			n := workloadCounts(c.dataDirs()...)
			return len(n) == 0, fmt.Sprint(n)
		}); err != nil {
			leaked = append(leaked, "workloads of removed services still run: "+err.Error())
		}
	} else {
		leaked = append(leaked, "no leader to remove the services")
	}
	if slow := c.stopAll(20 * time.Second); len(slow) > 0 {
		leaked = append(leaked, fmt.Sprintf("agents did not exit within 20s of SIGTERM: %v", slow))
	}
	var left []harness.Proc
	harness.Poll(10*time.Second, "no process of the cluster left", func() (bool, string) {
		left = harness.ProcsUnder(c.dataDirs()...)
		return len(left) == 0, ""
	})
	for _, p := range left {
		leaked = append(leaked, fmt.Sprintf("pid %d: %s", p.PID, p.Cmdline))
	}
	for _, a := range c.agents {
		harness.KillUnder(a.DataDir)
	}
	logf("teardown: %d leaks", len(leaked))
	return leaked
}

func api8(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// saveLogs writes every agent's output (across restarts) to a new
// directory under the system temp dir and returns it.
func (c *cluster) saveLogs(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	for _, a := range c.agents {
		if err := os.WriteFile(filepath.Join(dir, a.Name+".log"), []byte(a.Log()), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}
