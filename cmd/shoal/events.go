package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
)

func newEventsCommand(e *cliEnv) *cobra.Command {
	var since uint64
	var filters []string
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the cluster's changes as they commit",
		Long: `Print every committed change (services, tasks, nodes, cluster) as it is applied on
the agent's replica, one line each: time, Raft index, type, action, name and details.
It follows until Ctrl-C. --since N resumes after index N with nothing lost.`,
		Example: `  shoal events --filter type=task --filter service=web
  shoal events --since 1200 -o json`,
		Args: noArgs,
	}
	cmd.Flags().Uint64Var(&since, "since", 0, "resume after this Raft index (default: start now)")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "only events matching KEY=VALUE: type (service, task, node, cluster), service or node; repeatable")
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		filter, err := parseEventFilters(filters)
		if err != nil {
			return usageErrorf(cmd, "%v", err)
		}
		if cmd.Flags().Changed("since") {
			filter.Since = &since
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
		defer stop()
		stream, err := e.client().Events(ctx, filter)
		if err != nil {
			return err
		}
		defer stream.Close()
		w := cmd.OutOrStdout()
		last := filter.Since
		for {
			ev, line, err := stream.Next()
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return eventStreamClosed(last)
			}
			if err != nil {
				// The server's hint names the query parameter; say the flag.
				return errors.New(strings.ReplaceAll(err.Error(), "?since=", "--since "))
			}
			if asJSON {
				fmt.Fprintf(w, "%s\n", line)
			} else {
				fmt.Fprintln(w, eventLine(ev))
			}
			if !ev.Local {
				idx := ev.Index
				last = &idx
			}
		}
	}
	return cmd
}

// parseEventFilters reads --filter KEY=VALUE flags into a filter.
func parseEventFilters(flags []string) (api.EventFilter, error) {
	var f api.EventFilter
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return f, fmt.Errorf("filter %q is not KEY=VALUE", kv)
		}
		switch k {
		case "type":
			for _, s := range strings.Split(v, ",") {
				t, err := api.ParseEventType(s)
				if err != nil {
					return f, err
				}
				f.Types = append(f.Types, t)
			}
		case "service", "node":
			p := &f.Service
			if k == "node" {
				p = &f.Node
			}
			if *p != "" && *p != v {
				return f, fmt.Errorf("filter %s is given twice (%s and %s); give it once", k, *p, v)
			}
			*p = v
		default:
			return f, fmt.Errorf("unknown filter %q (want type, service or node)", k)
		}
	}
	return f, nil
}

// eventStreamClosed is the error for a stream the agent ended, with where
// to resume.
func eventStreamClosed(last *uint64) error {
	if last == nil {
		return errors.New("the agent closed the event stream")
	}
	return fmt.Errorf("the agent closed the event stream; resume with --since %d", *last)
}

// eventLine renders an event like docker events: time, index, type,
// action, name, then details in parentheses.
func eventLine(e *api.Event) string {
	attrs := map[string]string{}
	for k, v := range e.Attrs {
		attrs[k] = v
	}
	if e.Node != "" && e.Type != api.EventNode {
		attrs["node"] = e.Node
	}
	if e.Local {
		attrs["local"] = "true"
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + attrs[k]
	}
	name := e.Name
	if name == "" {
		name = "-"
	}
	s := fmt.Sprintf("%s %d %s %s %s", e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), e.Index, e.Type, e.Action, name)
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return textutil.OneLine(s)
}
