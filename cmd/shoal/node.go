package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
)

func newNodeCommand(e *cliEnv) *cobra.Command {
	group := newGroup("node", "Manage the nodes of the cluster")
	group.AddCommand(newNodeLsCommand(e), newNodeInspectCommand(e), newNodeUpdateCommand(e), newNodeRmCommand(e), newNodeDrainCommand(e))
	return group
}

func newNodeLsCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list"}, Short: "List nodes", Args: noArgs}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		nodes, err := e.client().Nodes(cmd.Context())
		if err != nil {
			return err
		}
		sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
		w := cmd.OutOrStdout()
		if asJSON {
			if nodes == nil {
				nodes = []api.NodeInfo{}
			}
			return printJSON(w, nodes)
		}
		t := newTable(w, "ID", "NAME", "ADDRESS", "STATUS", "AVAILABILITY", "ROLE", "TASKS", "LABELS")
		for _, n := range nodes {
			addr := n.Address
			if addr == "" {
				addr = n.P2PAddr
			}
			t.row(api.ShortID(n.ID), n.Name, addr, string(n.Status), string(n.Availability), string(n.Role), fmt.Sprint(n.Tasks), labelList(n.Labels))
		}
		return t.flush()
	}
	return cmd
}

func newNodeInspectCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME",
		Short: "Show a node as JSON",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := e.client().Node(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), n)
		},
	}
}

func newNodeUpdateCommand(e *cliEnv) *cobra.Command {
	var availability string
	var labelAdd, labelRm []string
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a node's availability or labels",
		Args:  exactArgs("NAME"),
	}
	cmd.Flags().StringVar(&availability, "availability", "", "active, pause or drain")
	cmd.Flags().StringArrayVar(&labelAdd, "label-add", nil, "add or change a label KEY=VALUE (repeatable)")
	cmd.Flags().StringArrayVar(&labelRm, "label-rm", nil, "remove a label KEY (repeatable)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req := api.NodeUpdateRequest{LabelRemove: labelRm}
		switch a := api.Availability(availability); a {
		case "":
		case api.AvailabilityActive, api.AvailabilityPause, api.AvailabilityDrain:
			req.Availability = a
		default:
			return usageErrorf(cmd, "--availability %q must be active, pause or drain", availability)
		}
		for _, kv := range labelAdd {
			k, v, err := parseKV(cmd, "label-add", kv)
			if err != nil {
				return err
			}
			if req.LabelAdd == nil {
				req.LabelAdd = map[string]string{}
			}
			req.LabelAdd[k] = v
		}
		if req.Availability == "" && len(req.LabelAdd) == 0 && len(req.LabelRemove) == 0 {
			return usageErrorf(cmd, "nothing to update: give --availability, --label-add or --label-rm")
		}
		n, err := e.client().UpdateNode(cmd.Context(), args[0], req)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "node %s updated (availability %s, labels %s)\n", n.Name, n.Availability, orNone(labelList(n.Labels)))
		return nil
	}
	return cmd
}

func newNodeRmCommand(e *cliEnv) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove nodes from the cluster for good (their peer IDs are denied)",
		Long: `Remove nodes from the cluster for good. A removed node's peer ID goes on
the cluster's deny list: it can no longer connect, join or gossip, even with
its old data dir or a valid join token (an empty data dir joins as a new
node). The removal rotates the join token too. Its tasks are replaced
elsewhere.

Only a down node is removed, unless --force: then a node that is up is cut
off at once (e.g. a compromised one). The leader cannot be removed; hand
leadership over first (shoal operator raft transfer-leadership).`,
		Args: minArgs("NAME"),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the node even if it is up")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return eachName(cmd, args, func(name string) error {
			if err := e.client().RemoveNode(cmd.Context(), name, force); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s removed\n", name)
			return nil
		})
	}
	return cmd
}

// eachName runs fn for every name, carrying on after failures; the error
// names every failure.
func eachName(cmd *cobra.Command, names []string, fn func(string) error) error {
	var failed []string
	var last error
	for _, n := range names {
		if err := fn(n); err != nil {
			failed = append(failed, n)
			last = err
			if len(names) > 1 {
				fmt.Fprintf(cmd.ErrOrStderr(), "shoal: %s: %s\n", n, textutil.OneLine(err.Error()))
			}
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(names) == 1:
		return last
	}
	return fmt.Errorf("%d of %d failed: %v", len(failed), len(names), failed)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
