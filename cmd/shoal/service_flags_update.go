package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shoal-project/shoal/api"
)

// policyFlags are the --update-* or --rollback-* flags, as docker
// service create/update's.
type policyFlags struct {
	prefix                     string // "update" or "rollback"
	parallelism                uint64
	delay, monitor, minHealthy time.Duration
	order, failureAction       string
	maxFailureRatio            float64
	// canary and traffic are --canary and --traffic (update only).
	canary  uint64
	traffic string
}

func (f *policyFlags) register(fs *pflag.FlagSet) {
	what := "an update"
	actions := "pause, continue or rollback"
	if f.prefix == "rollback" {
		what, actions = "a rollback", "pause or continue"
	}
	fs.Uint64Var(&f.parallelism, f.prefix+"-parallelism", 1, "tasks replaced at once in "+what+" (0: all at once)")
	fs.DurationVar(&f.delay, f.prefix+"-delay", 0, "wait between replacing tasks in "+what)
	fs.StringVar(&f.order, f.prefix+"-order", "", "stop-first or start-first: stop the old task before or after the new one is ready, in "+what+" (default stop-first)")
	fs.DurationVar(&f.monitor, f.prefix+"-monitor", 0, "how long after the last task is replaced a failure still counts against "+what+" (default 5s)")
	fs.Float64Var(&f.maxFailureRatio, f.prefix+"-max-failure-ratio", 0, "fraction of new tasks that may fail in "+what+" before the failure action")
	fs.StringVar(&f.failureAction, f.prefix+"-failure-action", "", "what a failed "+f.prefix+" does: "+actions+" (default pause)")
	fs.DurationVar(&f.minHealthy, f.prefix+"-min-healthy", 0, "how long a new task must run (and be healthy, with a health check) to count as replaced in "+what)
	if f.prefix == "update" {
		fs.Uint64Var(&f.canary, "canary", 0, "start this many tasks of a new spec beside the old ones, then hold the update until 'shoal service promote' (0: no canary)")
		fs.StringVar(&f.traffic, "traffic", "", "new=PERCENT: blue-green updates — start every replica of a new spec beside the old ones, send PERCENT of new connections to them and hold until 'shoal service promote'; while held, changes the split alone; none: no split")
	}
}

// parseTraffic reads --traffic: new=PERCENT (0-100), or none (nil).
func parseTraffic(v string) (*uint64, error) {
	if v == "none" {
		return nil, nil
	}
	bad := fmt.Errorf("--traffic: want new=PERCENT (0-100), got %q", v)
	pct, ok := strings.CutPrefix(v, "new=")
	if !ok {
		return nil, bad
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(pct, "%"), 10, 64)
	if err != nil || n > 100 {
		return nil, bad
	}
	return &n, nil
}

// apply writes the flags that were given into *pol, creating it if need
// be. Checking is the spec's validation.
func (f *policyFlags) apply(cmd *cobra.Command, pol **api.UpdatePolicy) error {
	set := func(name string) bool { return cmd.Flags().Changed(f.prefix + "-" + name) }
	names := []string{"parallelism", "delay", "order", "monitor", "max-failure-ratio", "failure-action", "min-healthy"}
	given := false
	for _, n := range names {
		given = given || set(n)
	}
	held := f.prefix == "update" && (cmd.Flags().Changed("canary") || cmd.Flags().Changed("traffic"))
	given = given || held
	if !given {
		return nil
	}
	p := api.UpdatePolicy{}
	if *pol != nil {
		p = **pol
	}
	if set("parallelism") {
		p.Parallelism = f.parallelism
		if p.Parallelism == 0 {
			p.Parallelism = api.MaxReplicas // Swarm's 0: all at once
		}
	}
	if set("delay") {
		p.Delay = api.Duration(f.delay)
	}
	if set("order") {
		p.Order = f.order
	}
	if set("monitor") {
		p.Monitor = api.Duration(f.monitor)
	}
	if set("max-failure-ratio") {
		p.MaxFailureRatio = f.maxFailureRatio
	}
	if set("failure-action") {
		p.FailureAction = f.failureAction
	}
	if set("min-healthy") {
		p.MinHealthy = api.Duration(f.minHealthy)
	}
	if held && cmd.Flags().Changed("canary") {
		p.Canary = f.canary
	}
	if held && cmd.Flags().Changed("traffic") {
		t, err := parseTraffic(f.traffic)
		if err != nil {
			return err
		}
		p.TrafficNew = t
	}
	*pol = &p
	return nil
}
