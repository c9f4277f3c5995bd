package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

func newSecretCommand(e *cliEnv) *cobra.Command {
	group := newGroup("secret", "Manage secrets that services get as files")
	group.AddCommand(newSecretCreateCommand(e), newSecretLsCommand(e), newSecretInspectCommand(e), newSecretRmCommand(e))
	return group
}

func newSecretCreateCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME [FILE|-]",
		Short: "Create a secret from a file or standard input (never from the command line)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageErrorf(cmd, "want NAME and optionally FILE or -, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if err := api.ValidSecretName(name); err != nil {
				return usageErrorf(cmd, "%v", err)
			}
			var r io.Reader = e.stdin
			if len(args) == 2 && args[1] != "-" {
				f, err := os.Open(args[1])
				if err != nil {
					return fmt.Errorf("secret file: %v", unwrapPath(err))
				}
				defer f.Close()
				r = f
			}
			data, err := io.ReadAll(io.LimitReader(r, api.MaxSecretSize+1))
			if err != nil {
				return fmt.Errorf("reading the secret: %v", err)
			}
			defer clear(data)
			switch {
			case len(data) == 0:
				return fmt.Errorf("secret %s: the value is empty", name)
			case len(data) > api.MaxSecretSize:
				return fmt.Errorf("secret %s: the value is larger than %d bytes", name, api.MaxSecretSize)
			}
			info, err := e.client().CreateSecret(cmd.Context(), name, data)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), info.ID)
			return nil
		},
	}
}

func newSecretLsCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list"}, Short: "List secrets (names and sizes, never values)", Args: noArgs}
	out := addOutputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		asJSON, err := out.json(cmd)
		if err != nil {
			return err
		}
		secrets, err := e.client().Secrets(cmd.Context())
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if asJSON {
			return printJSON(w, secrets)
		}
		t := newTable(w, "ID", "NAME", "SIZE", "CREATED", "USED BY")
		for _, s := range secrets {
			t.row(api.ShortID(s.ID), s.Name, fmt.Sprint(s.Size), ago(e.now(), s.CreatedAt), strings.Join(s.UsedBy, ","))
		}
		return t.flush()
	}
	return cmd
}

func newSecretInspectCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect NAME",
		Short: "Show a secret's metadata (never its value)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := e.client().Secret(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), s)
		},
	}
}

func newSecretRmCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"remove"},
		Short:   "Remove a secret no service uses",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := e.client().RemoveSecret(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), args[0])
			return nil
		},
	}
}
