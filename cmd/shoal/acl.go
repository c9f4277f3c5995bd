package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

func newACLCommand(e *cliEnv) *cobra.Command {
	group := newGroup("acl", "Manage API tokens and see whom you act as")
	tokens := newGroup("token", "Create, list and revoke API tokens (admin)")
	tokens.AddCommand(newACLTokenCreateCommand(e), newACLTokenLsCommand(e), newACLTokenRevokeCommand(e))
	group.AddCommand(tokens, newACLWhoAmICommand(e))
	return group
}

func newACLTokenCreateCommand(e *cliEnv) *cobra.Command {
	var name, role string
	var ttl time.Duration
	var quiet bool
	cmd := &cobra.Command{
		Use:   "create --name NAME --role admin|operator|read-only [--ttl DURATION]",
		Short: "Create an API token; its secret is printed this once",
		Args:  noArgs,
	}
	out := addOutputFlag(cmd)
	cmd.Flags().StringVar(&name, "name", "", "token name (letters, digits, - _ .)")
	cmd.Flags().StringVar(&role, "role", "", "admin (everything), operator (services, images, node availability) or read-only")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "the token expires this long after creation (default: never)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the secret")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		if name == "" {
			return usageErrorf(cmd, "--name is required")
		}
		r, err := api.ParseACLRole(role)
		if err != nil {
			return usageErrorf(cmd, "--role: %v", err)
		}
		if ttl < 0 {
			return usageErrorf(cmd, "--ttl must not be negative")
		}
		tok, err := e.client().CreateACLToken(cmd.Context(), api.CreateACLTokenRequest{Name: name, Role: r, TTL: api.Duration(ttl)})
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		switch {
		case asJSON:
			return printJSON(w, tok)
		case quiet:
			fmt.Fprintln(w, tok.Secret)
			return nil
		}
		fmt.Fprintf(w, "Token %s (role %s, %s) created. Its secret, shown only now:\n\n    %s\n\n", tok.Name, tok.Role, expiry(tok.ExpiresAt), tok.Secret)
		fmt.Fprintf(w, "Use it with --token-file FILE or SHOAL_TOKEN, over https:// with --ca-fingerprint (shoal cluster ca).\n")
		return nil
	}
	return cmd
}

func expiry(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + t.UTC().Format(time.RFC3339)
}

func newACLTokenLsCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list"}, Short: "List API tokens (never their secrets)", Args: noArgs}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		toks, err := e.client().ACLTokens(cmd.Context())
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if asJSON {
			return printJSON(w, toks)
		}
		t := newTable(w, "ID", "NAME", "ROLE", "CREATED", "EXPIRES")
		for _, tok := range toks {
			exp := "never"
			if !tok.ExpiresAt.IsZero() {
				exp = tok.ExpiresAt.UTC().Format(time.RFC3339)
				if !e.now().Before(tok.ExpiresAt) {
					exp += " (expired)"
				}
			}
			t.row(api.ShortID(tok.ID), tok.Name, string(tok.Role), ago(e.now(), tok.CreatedAt), exp)
		}
		return t.flush()
	}
	return cmd
}

func newACLTokenRevokeCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:     "revoke NAME|ID",
		Aliases: []string{"rm"},
		Short:   "Revoke an API token: requests carrying it fail at once",
		Args:    exactArgs("NAME|ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := e.client().RevokeACLToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Token %s revoked.\n", tok.Name)
			return nil
		},
	}
}

func newACLWhoAmICommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "whoami", Short: "Show the token (or local socket) you act as and its role", Args: noArgs}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		me, err := e.client().WhoAmI(cmd.Context())
		if err != nil {
			return err
		}
		if asJSON {
			return printJSON(cmd.OutOrStdout(), me)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s (role %s)\n", me.Name, me.Role)
		return nil
	}
	return cmd
}
