package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shoal-project/shoal/api"
)

func newServiceRollbackCommand(e *cliEnv) *cobra.Command {
	var wait waitFlags
	var to uint64
	cmd := &cobra.Command{
		Use:   "rollback NAME",
		Short: "Make an earlier spec of a service its new version",
		Long: `Make the spec of the version before the current one (or of --to VERSION)
the service's new version, replaced with its rollback policy, and unless
--detach wait until the rollback ends. The update and rollback policies
stay as they are. 'shoal service history NAME' lists the kept versions.`,
		Args: exactArgs("NAME"),
	}
	cmd.Flags().Uint64Var(&to, "to", 0, "the version to roll back to (default: the one before the current)")
	wait.register(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return e.rollback(cmd, e.client(), args[0], to, wait)
	}
	return cmd
}

func newServicePromoteCommand(e *cliEnv) *cobra.Command {
	var wait waitFlags
	cmd := &cobra.Command{
		Use:   "promote NAME",
		Short: "Continue a service's update held in canary",
		Long: `Continue a service's update that holds in its canary state (--canary,
--traffic): the old tasks beside ready canaries stop (the canaries count
as updated), the rest are replaced by the update policy, and a traffic
split sends every new connection to the new version while the old tasks
drain. Unless --detach, wait until the update ends.`,
		Args: exactArgs("NAME"),
	}
	wait.register(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := e.client()
		info, err := c.PromoteService(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		st := info.UpdateStatus
		fmt.Fprintf(cmd.OutOrStdout(), "service %s promoted: the update to version %d continues\n", info.Spec.Name, st.ToVersion)
		if wait.detach {
			return nil
		}
		return e.waitConverged(cmd, c, info.Spec.Name, st.ToVersion, wait.timeout)
	}
	return cmd
}

// rollback rolls a service back to version to (0: the one before the
// current) and, unless detached, waits until the rollback ends.
func (e *cliEnv) rollback(cmd *cobra.Command, c *api.Client, name string, to uint64, wait waitFlags) error {
	info, err := c.RollbackService(cmd.Context(), name, to)
	if err != nil {
		return err
	}
	from := uint64(0)
	if info.UpdateStatus != nil {
		from = info.UpdateStatus.FromVersion
	}
	fmt.Fprintf(cmd.OutOrStdout(), "service %s rolled back from version %d (now version %d)\n", info.Spec.Name, from, info.Version)
	if wait.detach {
		return nil
	}
	return e.waitConverged(cmd, c, info.Spec.Name, info.Version, wait.timeout)
}

// onlyFlags returns a flag of cmd's own that was given and is not one of
// names, or "".
func onlyFlags(cmd *cobra.Command, names ...string) string {
	other := ""
	inherited := cmd.InheritedFlags()
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if other == "" && !slices.Contains(names, f.Name) && inherited.Lookup(f.Name) == nil {
			other = f.Name
		}
	})
	return other
}

func newServiceHistoryCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List the versions a service keeps and what each changed",
		Args:  exactArgs("NAME"),
	}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		info, err := e.client().Service(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		rows := history(info)
		if asJSON {
			return printJSON(cmd.OutOrStdout(), rows)
		}
		return printHistory(cmd.OutOrStdout(), e.now(), rows)
	}
	return cmd
}

// historyRow is one version in `service history`.
type historyRow struct {
	Version   uint64    `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	By        string    `json:"by,omitempty"`
	// Changes names the fields that differ from the version before; empty
	// for the first version, or the oldest kept one.
	Changes []string `json:"changes"`
	Current bool     `json:"current,omitempty"`
	// Note says "created", or that earlier versions are no longer kept.
	Note string `json:"note,omitempty"`
	// RunsAs is an older kept version (not the one just before) whose
	// tasks this version runs again, as after a rollback; 0 for none.
	RunsAs uint64 `json:"runs_as,omitempty"`
}

// history lists a service's kept versions, newest first, with what each
// changed.
func history(info api.ServiceInfo) []historyRow {
	vs := versionedSpecs(info)
	rows := make([]historyRow, 0, len(vs))
	for i, v := range vs {
		r := historyRow{Version: v.Version, UpdatedAt: v.UpdatedAt, By: v.UpdatedBy, Current: i == 0, Changes: []string{}}
		switch {
		case i+1 < len(vs):
			for _, c := range specDiff(vs[i+1].Spec, v.Spec) {
				r.Changes = append(r.Changes, c.Field)
			}
			for _, older := range vs[i+2:] {
				if !api.RunsSame(vs[i+1].Spec, v.Spec) && api.RunsSame(older.Spec, v.Spec) {
					r.RunsAs = older.Version
					break
				}
			}
		case v.Version == 1:
			r.Note = "created"
		default:
			r.Note = "earlier versions are not kept"
		}
		rows = append(rows, r)
	}
	return rows
}

func printHistory(w io.Writer, now time.Time, rows []historyRow) error {
	t := newTable(w, "VERSION", "UPDATED", "BY", "CHANGES")
	for _, r := range rows {
		v := fmt.Sprint(r.Version)
		if r.Current {
			v += " (current)"
		}
		by := r.By
		if by == "" {
			by = "-"
		}
		changes := r.Note
		switch {
		case changes != "":
		case len(r.Changes) == 0:
			changes = "(no change)"
		default:
			changes = strings.Join(r.Changes, ", ")
		}
		if r.RunsAs != 0 {
			changes += fmt.Sprintf(" (runs as version %d)", r.RunsAs)
		}
		t.row(v, ago(now, r.UpdatedAt), by, changes)
	}
	return t.flush()
}

func newServiceDiffCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff NAME [V1 [V2]]",
		Short: "Show the fields that differ between two versions of a service",
		Long: `Show the fields that differ between two kept versions of a service:
by default the previous and the current one; with V1, V1 and the current
one; with V1 and V2, those two.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 3 {
				return usageErrorf(cmd, "%q needs a service NAME and at most two versions", cmd.CommandPath())
			}
			return nil
		},
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		info, err := e.client().Service(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		vs := versionedSpecs(info)
		a, b := vs[0], vs[0]
		switch len(args) {
		case 1:
			if len(vs) < 2 {
				return fmt.Errorf("service %s has one version only", info.Spec.Name)
			}
			a = vs[1]
		case 2:
			if a, err = findVersion(info, args[1]); err != nil {
				return err
			}
		case 3:
			if a, err = findVersion(info, args[1]); err != nil {
				return err
			}
			if b, err = findVersion(info, args[2]); err != nil {
				return err
			}
		}
		printDiff(cmd.OutOrStdout(), a, b)
		return nil
	}
	return cmd
}

// printDiff writes one line a changed field: "FIELD: OLD -> NEW", with
// "-" for an absent value.
func printDiff(w io.Writer, a, b api.VersionedSpec) {
	fmt.Fprintf(w, "version %d -> version %d\n", a.Version, b.Version)
	d := specDiff(a.Spec, b.Spec)
	if len(d) == 0 {
		fmt.Fprintln(w, "no differences")
		return
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, c := range d {
		fmt.Fprintf(w, "%s: %s -> %s\n", c.Field, dash(c.Old), dash(c.New))
	}
}
