package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

func newTokenCommand(e *cliEnv) *cobra.Command {
	group := newGroup("token", "Show or rotate the join token")
	group.AddCommand(newTokenShowCommand(e, false), newTokenShowCommand(e, true))
	return group
}

// newTokenShowCommand builds `token show`, or `token rotate` if rotate.
func newTokenShowCommand(e *cliEnv, rotate bool) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{Use: "show", Short: "Show the token that lets a new node join", Args: noArgs}
	if rotate {
		cmd.Use, cmd.Short = "rotate", "Replace the join token; the old one stops working"
	}
	out := addOutputFlag(cmd)
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the token")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		c := e.client()
		var tok api.TokenResponse
		if rotate {
			tok, err = c.RotateToken(cmd.Context())
		} else {
			tok, err = c.Token(cmd.Context())
		}
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		switch {
		case asJSON:
			return printJSON(w, tok)
		case quiet:
			fmt.Fprintln(w, tok.Token)
			return nil
		}
		if rotate {
			fmt.Fprintln(w, "Join token rotated; the previous token no longer admits new nodes.")
		}
		fmt.Fprintf(w, "Join token: %s\nRotated:    %s\n\n", tok.Token, ago(e.now(), tok.RotatedAt))
		fmt.Fprintf(w, "To add a node to this cluster, run on it:\n\n    shoal agent --join %s --token %s\n", joinAddr(cmd, c), tok.Token)
		return nil
	}
	return cmd
}

// joinAddr finds the p2p address of the node that answers the API, for the
// join hint; it falls back to a placeholder.
func joinAddr(cmd *cobra.Command, c *api.Client) string {
	st, err := c.ClusterStatus(cmd.Context(), false)
	if err == nil && st.Self != "" {
		if n, err := c.Node(cmd.Context(), st.Self); err == nil && n.Address != "" {
			return n.Address
		}
	}
	return "<HOST:PORT of a member>"
}
