package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

func newServiceCommand(e *cliEnv) *cobra.Command {
	group := newGroup("service", "Manage services")
	group.AddCommand(
		newServiceCreateCommand(e), newServiceUpdateCommand(e),
		newServiceLsCommand(e), newServicePsCommand(e), newServiceInspectCommand(e),
		newServiceScaleCommand(e), newServiceRmCommand(e), newServiceLogsCommand(e),
		newServiceRollbackCommand(e), newServicePromoteCommand(e), newServiceHistoryCommand(e), newServiceDiffCommand(e),
	)
	return group
}

// serviceSummary is one service in `service ls -o json`: the fields of
// ServiceInfo flattened, with the whole spec kept under "spec".
type serviceSummary struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Mode      api.ServiceMode `json:"mode"`
	Desired   uint64          `json:"desired"`
	Running   uint64          `json:"running"`
	Version   uint64          `json:"version"`
	Runtime   string          `json:"runtime"`
	Image     string          `json:"image,omitempty"`
	Command   []string        `json:"command,omitempty"`
	Args      []string        `json:"args,omitempty"`
	Ports     []api.PortSpec  `json:"ports,omitempty"`
	Endpoint  api.Endpoint    `json:"endpoint,omitzero"` // the VIP and allocated ports
	Pending   []string        `json:"pending,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	// Update is the state of the latest rolling update or rollback.
	Update *api.UpdateStatus `json:"update_status,omitempty"`
	Spec   api.ServiceSpec   `json:"spec"`
}

func summarize(s api.ServiceInfo) serviceSummary {
	return serviceSummary{
		ID: s.ID, Name: s.Spec.Name, Mode: s.Spec.Mode, Desired: s.Desired, Running: s.Running,
		Version: s.Version, Runtime: s.Spec.Runtime, Image: s.Spec.Image, Command: s.Spec.Command,
		Args: s.Spec.Args, Ports: s.Spec.Ports, Endpoint: s.Endpoint, Pending: s.Pending,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Update: s.UpdateStatus, Spec: s.Spec,
	}
}

func newServiceLsCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list"}, Short: "List services", Args: noArgs}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		svcs, err := e.client().Services(cmd.Context())
		if err != nil {
			return err
		}
		sort.Slice(svcs, func(i, j int) bool { return svcs[i].Spec.Name < svcs[j].Spec.Name })
		w := cmd.OutOrStdout()
		if asJSON {
			sums := make([]serviceSummary, 0, len(svcs))
			for _, s := range svcs {
				sums = append(sums, summarize(s))
			}
			return printJSON(w, sums)
		}
		t := newTable(w, "NAME", "MODE", "REPLICAS", "IMAGE/COMMAND", "UPDATED", "UPDATE", "PORTS")
		for _, s := range svcs {
			replicas := fmt.Sprintf("%d/%d", s.Running, s.Desired)
			if len(s.Pending) > 0 {
				replicas += " (pending)"
			}
			t.row(s.Spec.Name, string(s.Spec.Mode), replicas, truncate(what(s.Spec), 50), ago(e.now(), s.UpdatedAt), updateColumn(s.Service), portsColumn(s.Service))
		}
		return t.flush()
	}
	return cmd
}

// updateColumn is the state of a service's latest update: "updating",
// "paused", "rollback_completed"..., or "-" before the first. An update
// held in canary shows its canaries ("canary 1/1": ready of wanted —
// held, they all are) or its traffic split ("traffic 20%").
func updateColumn(s api.Service) string {
	st := s.UpdateStatus
	switch {
	case st == nil:
		return "-"
	case st.Held() && s.Spec.Update != nil && s.Spec.Update.TrafficNew != nil:
		return fmt.Sprintf("traffic %d%%", *s.Spec.Update.TrafficNew)
	case st.Held():
		n := s.Spec.Update.Canaries(s.Spec.Replicas)
		return fmt.Sprintf("canary %d/%d", n, n)
	}
	return st.State
}

// what is a spec's image, or its command line.
func what(s api.ServiceSpec) string {
	if s.Image != "" {
		return s.Image
	}
	return strings.Join(append(append([]string{}, s.Command...), s.Args...), " ")
}

func newServiceInspectCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME",
		Short: "Show a service as JSON",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := e.client().Service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), s)
		},
	}
}

func newServicePsCommand(e *cliEnv) *cobra.Command {
	var noTrunc bool
	cmd := &cobra.Command{Use: "ps NAME", Short: "List a service's tasks, newest first in each slot", Args: exactArgs("NAME")}
	out := addOutputFlag(cmd)
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not shorten IDs and errors")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		tasks, err := e.client().ServiceTasks(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		sortTasks(tasks)
		w := cmd.OutOrStdout()
		if asJSON {
			if tasks == nil {
				tasks = []api.TaskInfo{}
			}
			return printJSON(w, tasks)
		}
		t := newTable(w, "ID", "NAME", "NODE", "IP", "DESIRED STATE", "CURRENT STATE", "ERROR")
		prev := ""
		for _, task := range tasks {
			name := taskName(task)
			shown := name
			if name == prev {
				shown = ` \_ ` + name
			}
			prev = name
			id, errText := api.ShortID(task.ID), task.Error
			if noTrunc {
				id = task.ID
			} else {
				errText = truncate(errText, 60)
			}
			node := task.NodeName
			if node == "" && task.NodeID != "" {
				node = api.ShortID(task.NodeID)
			}
			current := capitalize(task.State.String())
			if task.Health != "" && task.State == api.TaskRunning {
				current += " (" + task.Health + ")" // as docker ps: "Up 5 minutes (healthy)"
			}
			current += " " + ago(e.now(), task.Status.Timestamp)
			ip := task.IP
			if ip == "" {
				ip = "-"
			}
			t.row(id, shown, node, ip, capitalize(task.DesiredState.String()), current, errText)
		}
		return t.flush()
	}
	return cmd
}

// taskName is NAME.SLOT, or NAME.NODE for a global service's task.
func taskName(t api.TaskInfo) string {
	if t.Slot > 0 {
		return fmt.Sprintf("%s.%d", t.ServiceName, t.Slot)
	}
	node := t.NodeName
	if node == "" {
		node = api.ShortID(t.NodeID)
	}
	return t.ServiceName + "." + node
}

// sortTasks orders tasks by slot (or node), newest first within one.
func sortTasks(tasks []api.TaskInfo) {
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := tasks[i], tasks[j]
		if a.Slot != b.Slot {
			return a.Slot < b.Slot
		}
		if na, nb := taskName(a), taskName(b); na != nb {
			return na < nb
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
}

func newServiceRmCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove services and stop their tasks",
		Args:    minArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachName(cmd, args, func(name string) error {
				if err := e.client().RemoveService(cmd.Context(), name); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "service %s removed\n", name)
				return nil
			})
		},
	}
}

func newServiceLogsCommand(e *cliEnv) *cobra.Command {
	var follow bool
	var tail int
	cmd := &cobra.Command{Use: "logs NAME", Short: "Print the logs of a service's tasks", Args: exactArgs("NAME")}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output")
	cmd.Flags().IntVarP(&tail, "tail", "n", -1, "print only the last N lines of each task (-1: all)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		rc, err := e.client().ServiceLogs(cmd.Context(), args[0], follow, tail)
		if err != nil {
			return err
		}
		defer rc.Close()
		if _, err := io.Copy(cmd.OutOrStdout(), rc); err != nil && cmd.Context().Err() == nil {
			return fmt.Errorf("log stream of %s broke: %v", args[0], err)
		}
		return nil
	}
	return cmd
}

func newServiceScaleCommand(e *cliEnv) *cobra.Command {
	var wait waitFlags
	cmd := &cobra.Command{
		Use:   "scale NAME=REPLICAS...",
		Short: "Change the replica count of replicated services",
		Args:  minArgs("NAME=REPLICAS"),
	}
	wait.register(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		type scale struct {
			name string
			n    uint64
		}
		var todo []scale
		for _, a := range args {
			name, num, ok := strings.Cut(a, "=")
			n, err := strconv.ParseUint(num, 10, 64)
			if !ok || name == "" || err != nil {
				return usageErrorf(cmd, "%q must look like NAME=REPLICAS, e.g. web=3", a)
			}
			todo = append(todo, scale{name, n})
		}
		c := e.client()
		for _, s := range todo {
			if _, err := c.ScaleService(cmd.Context(), s.name, s.n); err != nil {
				return fmt.Errorf("scale %s: %w", s.name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "service %s scaled to %d\n", s.name, s.n)
		}
		if wait.detach {
			return nil
		}
		for _, s := range todo {
			if err := e.waitConverged(cmd, c, s.name, 0, wait.timeout); err != nil {
				return err
			}
		}
		return nil
	}
	return cmd
}
