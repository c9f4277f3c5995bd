package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

// drainSlack is how long `node drain` keeps waiting after the deadline
// for the node to report its killed tasks before it gives up.
const drainSlack = 15 * time.Second

func newNodeDrainCommand(e *cliEnv) *cobra.Command {
	var deadline time.Duration
	var detach bool
	cmd := &cobra.Command{
		Use:   "drain NAME",
		Short: "Move every task off a node and wait until it is empty",
		Long: `Set the node's availability to drain: each running task of a replicated
service moves start-first (a replacement starts on another node, and the
task stops once that one is ready: running, healthy if checked, for the
update policy's min healthy; the update parallelism of a service at a
time); a task no other node can take, whose replacement fails, and every
other task is stopped (each gets its stop grace period) and replaced on
other nodes. Once the deadline passes, the node kills the tasks that
still run. The deadline is kept in the
replicated state, so it holds through a change of leader.

Without --detach, prints the tasks left on the node until there are none.
Ctrl-C stops watching; the drain goes on. 'node update NAME --availability
active' ends it.`,
		Args: exactArgs("NAME"),
	}
	cmd.Flags().DurationVar(&deadline, "deadline", time.Hour, "kill the tasks that still run after this long")
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "return once the drain is set, without waiting")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if deadline <= 0 {
			return usageErrorf(cmd, "--deadline %s must be positive", deadline)
		}
		c := e.client()
		start := e.now()
		n, err := c.UpdateNode(cmd.Context(), args[0], api.NodeUpdateRequest{Availability: api.AvailabilityDrain, DrainDeadline: api.Duration(deadline)})
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "node %s draining (deadline %s)\n", n.Name, deadline)
		if detach {
			return nil
		}
		return watchDrain(cmd.Context(), e, c, n.Name, start, deadline, w)
	}
	return cmd
}

// watchDrain polls the node's tasks and prints what is left whenever it
// changes, until no task on the node is live.
func watchDrain(ctx context.Context, e *cliEnv, c *api.Client, name string, start time.Time, deadline time.Duration, w io.Writer) error {
	last := ""
	forced := false
	for {
		tasks, err := c.NodeTasks(ctx, name)
		if err != nil && api.CodeOf(err) != api.CodeUnavailable && api.CodeOf(err) != api.CodeNoLeader {
			return err
		}
		elapsed := e.now().Sub(start)
		if err == nil {
			left := liveTasks(tasks)
			if len(left) == 0 {
				how := "no tasks left"
				if forced {
					how = "the deadline passed; the tasks still running were killed"
				}
				fmt.Fprintf(w, "node %s drained in %s: %s\n", name, elapsed.Round(100*time.Millisecond), how)
				return nil
			}
			if elapsed >= deadline {
				forced = true
			}
			if s := strings.Join(left, ", "); s != last {
				fmt.Fprintf(w, "%d task%s left on %s: %s\n", len(left), plural(len(left)), name, s)
				last = s
			}
			if elapsed > deadline+drainSlack {
				return fmt.Errorf("drain deadline passed %s ago, but %s still reports %d live task%s (%s); is its agent up?",
					(elapsed - deadline).Round(time.Second), name, len(left), plural(len(left)), last)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped watching; the drain of %s goes on", name)
		case <-time.After(e.poll):
		}
	}
}

// liveTasks names the tasks whose workload may still run (observed state
// not terminal), sorted: "web.1 (running)".
func liveTasks(tasks []api.TaskInfo) []string {
	var out []string
	for _, t := range tasks {
		if t.Status.State.Terminal() {
			continue
		}
		name := fmt.Sprintf("%s.%d", t.ServiceName, t.Slot)
		if t.Slot == 0 {
			name = t.ServiceName + "." + api.ShortID(t.ID)
		}
		state := t.Status.State.String()
		if t.DesiredState > api.TaskRunning && t.Status.State == api.TaskRunning {
			state = "stopping"
		}
		out = append(out, name+" ("+state+")")
	}
	sort.Strings(out)
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
