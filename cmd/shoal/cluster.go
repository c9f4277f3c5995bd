package main

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

func newClusterCommand(e *cliEnv) *cobra.Command {
	group := newGroup("cluster", "Show the state of the cluster")
	group.AddCommand(newClusterStatusCommand(e), newClusterCACommand(e), newClusterRotateKeysCommand(e))
	return group
}

func newClusterStatusCommand(e *cliEnv) *cobra.Command {
	var consistent bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's ID, leader, Raft term and members",
		Args:  noArgs,
	}
	out := addOutputFlag(cmd)
	cmd.Flags().BoolVar(&consistent, "consistent", false, "ask the leader to confirm the answer")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		st, err := e.client().ClusterStatus(cmd.Context(), consistent)
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if asJSON {
			return printJSON(w, st)
		}
		leader := st.Leader
		if leader == "" {
			leader = "(none)"
		} else if st.LeaderID != "" {
			leader += " (" + api.ShortID(st.LeaderID) + ")"
		}
		t := newTable(w, "Cluster ID:", st.ClusterID)
		t.row("Created:", ago(e.now(), st.CreatedAt))
		cidr := st.CIDR
		if cidr == "" {
			cidr = "(none: containers use the host network)"
		}
		t.row("Task network:", cidr)
		t.row("Service VIPs:", cmp.Or(st.ServiceCIDR, "(none: services get no virtual IP)"))
		t.row("Leader:", leader)
		t.row("Term:", fmt.Sprint(st.Term))
		t.row("Commit index:", fmt.Sprint(st.CommitIndex))
		t.row("Applied index:", fmt.Sprint(st.AppliedIndex))
		t.row("Voters:", namesOrNone(st.Voters))
		t.row("Non-voters:", namesOrNone(st.Nonvoters))
		t.row("Members:", fmt.Sprintf("%d: %s", len(st.Members), namesOrNone(st.Members)))
		t.row("Answered by:", st.Self)
		return t.flush()
	}
	return cmd
}

func namesOrNone(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}
