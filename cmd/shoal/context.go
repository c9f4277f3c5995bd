package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

func newContextCommand(e *cliEnv) *cobra.Command {
	group := newGroup("context", "Name agent endpoints with their token and CA, and switch between them")
	group.AddCommand(newContextCreateCommand(e), newContextLsCommand(e), newContextUseCommand(e), newContextRmCommand(e))
	return group
}

func newContextCreateCommand(e *cliEnv) *cobra.Command {
	var c clientContext
	cmd := &cobra.Command{
		Use:   "create NAME --addr https://HOST:PORT (--ca-fingerprint sha256:… | --ca-cert FILE) (--token-file FILE | --token T)",
		Short: "Save an endpoint; checks that it answers before saving",
		Args:  exactArgs("NAME"),
	}
	// The context's own settings are this command's flags; the global
	// flags of the same names are hidden from it.
	f := cmd.Flags()
	f.StringVar(&c.Addr, "addr", "", "agent API: unix:///PATH or https://HOST:PORT")
	f.StringVar(&c.TokenFile, "token-file", "", "file holding the API token (its path is saved)")
	f.StringVar(&c.Token, "token", "", "the API token itself (saved in the context file, mode 0600)")
	f.StringVar(&c.CACert, "ca-cert", "", "PEM file of the cluster CA (its path is saved)")
	f.StringVar(&c.CAFingerprint, "ca-fingerprint", "", "the cluster CA's fingerprint, sha256:HEX (shoal cluster ca --fingerprint)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		name := args[0]
		if err := api.ValidACLTokenName(name); err != nil {
			return usageErrorf(cmd, "context name: %v", strings.TrimPrefix(err.Error(), "token name "))
		}
		if c.Addr == "" {
			return usageErrorf(cmd, "--addr is required")
		}
		// Check it before saving: a context that cannot connect is a typo.
		probe := &cliEnv{getenv: func(string) string { return "" }, addr: c.Addr, token: c.Token, tokenFile: c.TokenFile,
			caCert: c.CACert, caFingerprint: c.CAFingerprint, stdin: e.stdin, now: e.now, poll: e.poll, tweak: e.tweak}
		me, err := probe.client().WhoAmI(cmd.Context())
		if err != nil {
			return fmt.Errorf("context %s not saved: %v", name, err)
		}
		f, path, err := e.loadContexts()
		if err != nil {
			return err
		}
		if f.Contexts == nil {
			f.Contexts = map[string]clientContext{}
		}
		f.Contexts[name] = c
		if err := saveContexts(path, f); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Context %s saved in %s: %s as %s (role %s). Use it with: shoal context use %s\n", name, path, c.Addr, me.Name, me.Role, name)
		return nil
	}
	return cmd
}

func newContextLsCommand(e *cliEnv) *cobra.Command {
	cmd := &cobra.Command{Use: "ls", Aliases: []string{"list"}, Short: "List contexts; * marks the current one", Args: noArgs}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		f, _, err := e.loadContexts()
		if err != nil {
			return err
		}
		_, cur, _, _ := e.currentContext()
		t := newTable(cmd.OutOrStdout(), "NAME", "ADDRESS", "TRUST", "TOKEN")
		t.row(mark(cur == "")+"default", api.DefaultAPIAddr, "socket permissions", "-")
		for _, n := range f.names() {
			c := f.Contexts[n]
			trust, tok := c.CAFingerprint, "-"
			if c.CACert != "" {
				trust = c.CACert
			}
			switch {
			case c.TokenFile != "":
				tok = c.TokenFile
			case c.Token != "":
				tok = "(saved)"
			}
			t.row(mark(cur == n)+n, c.Addr, trust, tok)
		}
		return t.flush()
	}
	return cmd
}

func mark(current bool) string {
	if current {
		return "* "
	}
	return "  "
}

func newContextUseCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "use NAME|default",
		Short: "Make a context current (default: the local socket)",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, path, err := e.loadContexts()
			if err != nil {
				return err
			}
			name := args[0]
			if name == "default" {
				name = ""
			} else if _, ok := f.Contexts[name]; !ok {
				return fmt.Errorf("context %q is not in %s (shoal context ls)", name, path)
			}
			f.Current = name
			if err := saveContexts(path, f); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Current context: %s\n", args[0])
			return nil
		},
	}
}

func newContextRmCommand(e *cliEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Forget a context",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, path, err := e.loadContexts()
			if err != nil {
				return err
			}
			if _, ok := f.Contexts[args[0]]; !ok {
				return fmt.Errorf("context %q is not in %s", args[0], path)
			}
			delete(f.Contexts, args[0])
			if f.Current == args[0] {
				f.Current = ""
			}
			if err := saveContexts(path, f); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), args[0])
			return nil
		},
	}
}
