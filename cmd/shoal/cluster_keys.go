package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// newClusterCACommand prints the cluster CA that signs every node's HTTPS
// certificate, and the fingerprint clients pin.
func newClusterCACommand(e *cliEnv) *cobra.Command {
	var fingerprint bool
	cmd := &cobra.Command{Use: "ca", Short: "Print the cluster CA certificate (PEM) that HTTPS clients trust", Args: noArgs}
	out := addOutputFlag(cmd)
	cmd.Flags().BoolVar(&fingerprint, "fingerprint", false, "print only the fingerprint, for --ca-fingerprint")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		ca, err := e.client().ClusterCA(cmd.Context())
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		switch {
		case asJSON:
			return printJSON(w, ca)
		case fingerprint:
			fmt.Fprintln(w, ca.Fingerprint)
			return nil
		}
		fmt.Fprintf(w, "# fingerprint %s\n%s", ca.Fingerprint, ca.Certificate)
		return nil
	}
	return cmd
}

// newClusterRotateKeysCommand rotates the cluster's keys.
func newClusterRotateKeysCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-keys",
		Short: "Replace the gossip key, the signing key (and so the CA) and the join token on every node",
		Args:  noArgs,
	}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		res, err := e.client().RotateKeys(cmd.Context())
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if asJSON {
			return printJSON(w, res)
		}
		fmt.Fprintf(w, "Keys rotated (%s): the old gossip key and join tokens get nothing any more.\n", strings.Join(res.Steps, ", "))
		if len(res.Lagging) > 0 {
			fmt.Fprintf(w, "Not confirmed in time (they take the new keys when they catch up): %s\n", strings.Join(res.Lagging, ", "))
		}
		fmt.Fprintf(w, "New join token: %s\nThe cluster CA changed: re-pin HTTPS clients with `shoal cluster ca --fingerprint`.\n", res.Token)
		return nil
	}
	return cmd
}
