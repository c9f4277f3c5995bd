package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

// newOperatorCommand is `shoal operator`: low-level cluster operations.
func newOperatorCommand(e *cliEnv) *cobra.Command {
	group := newGroup("operator", "Operate the cluster's internals")
	raftGroup := newGroup("raft", "Inspect and steer the Raft group")
	raftGroup.AddCommand(newRaftListPeersCommand(e), newRaftTransferCommand(e))
	group.AddCommand(raftGroup, newSnapshotCommand(e))
	return group
}

func newRaftListPeersCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list-peers",
		Short: "List the Raft servers, as the leader sees them",
		Args:  noArgs,
	}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		cfg, err := e.client().RaftPeers(cmd.Context())
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if asJSON {
			if cfg.Servers == nil {
				cfg.Servers = []api.RaftServer{}
			}
			return printJSON(w, cfg)
		}
		t := newTable(w, "NODE", "ID", "ADDRESS", "STATE", "VOTER", "LAST CONTACT")
		for _, s := range cfg.Servers {
			state := "follower"
			if s.Leader {
				state = "leader"
			}
			t.row(orDash(s.Node), api.ShortID(s.ID), orDash(s.Address), state, fmt.Sprint(s.Voter), lastContact(s))
		}
		return t.flush()
	}
	return cmd
}

// lastContact renders a server's last contact with the leader: "-" for
// the leader, "never", or an age such as "12ms" or "3.4s".
func lastContact(s api.RaftServer) string {
	switch {
	case s.Leader:
		return "-"
	case s.LastContact == nil:
		return "never"
	}
	d := s.LastContact.Std()
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newRaftTransferCommand(e *cliEnv) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "transfer-leadership",
		Short: "Hand Raft leadership to another voter",
		Long: `Hand Raft leadership to the voter --to names (a node name, ID or ID prefix),
or to the most up-to-date voter. A node that is not a voter, unknown or down
is refused. Prints the new leader.`,
		Args: noArgs,
	}
	cmd.Flags().StringVar(&to, "to", "", "the node to lead (name, ID or ID prefix)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		res, err := e.client().TransferLeadership(cmd.Context(), to)
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if res.Leader == res.Previous {
			fmt.Fprintf(w, "%s already leads (term %d)\n", res.Leader, res.Term)
			return nil
		}
		fmt.Fprintf(w, "leadership transferred from %s to %s (term %d)\n", res.Previous, res.Leader, res.Term)
		return nil
	}
	return cmd
}
