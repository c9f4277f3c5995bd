package main

import (
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

// cliEnv is what the CLI commands share: where the agent is, the clock and
// the input. Tests replace its parts.
type cliEnv struct {
	addr string // --addr
	// token, tokenFile, caCert and caFingerprint are the TCP API's
	// credentials and trust (--token, --token-file, --ca-cert,
	// --ca-fingerprint).
	token, tokenFile, caCert, caFingerprint string
	// context is --context: a named endpoint (shoal context).
	context string
	getenv  func(string) string
	stdin   io.Reader
	now     func() time.Time
	// poll is how often waiting commands poll the API.
	poll time.Duration
	// tweak adjusts every client (tests shorten its backoff).
	tweak func(*api.Client)
}

func defaultEnv() *cliEnv {
	return &cliEnv{getenv: os.Getenv, stdin: os.Stdin, now: time.Now, poll: 200 * time.Millisecond}
}

// client returns an API client for --addr, else $SHOAL_ADDR, else the
// default address (the local socket), with the token and CA trust from
// flags or the environment. A problem with them is reported by the
// client's first call.
func (e *cliEnv) client() *api.Client {
	cfg, err := e.clientConfig()
	c := api.FailedClient(err)
	if err == nil {
		c = api.ClientFor(cfg)
	}
	if e.tweak != nil {
		e.tweak(c)
	}
	return c
}

// newRootCommand returns the `shoal` command with every CLI subcommand
// (not the agent's, which run adds from extraCommands).
func newRootCommand() *cobra.Command { return newRoot(defaultEnv()) }

func newRoot(e *cliEnv) *cobra.Command {
	root := &cobra.Command{
		Use:   "shoal",
		Short: "Shoal: a peer-to-peer, swarm-style orchestrator",
		Long: `Shoal runs services across a cluster of hosts. Every host runs 'shoal agent';
the other commands talk to an agent's HTTP API (--addr, $SHOAL_ADDR, or ` + api.DefaultAPIAddr + `).`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&e.addr, "addr", "", "agent API: unix:///PATH or https://HOST:PORT (default $SHOAL_ADDR or "+api.DefaultAPIAddr+")")
	pf.StringVar(&e.context, "context", "", "use this context's address, token and CA (default $SHOAL_CONTEXT, else the one shoal context use made current)")
	pf.StringVar(&e.token, "token", "", "API token for https:// addresses (default $SHOAL_TOKEN); visible in the process list: prefer --token-file")
	pf.StringVar(&e.tokenFile, "token-file", "", "file holding the API token (default $SHOAL_TOKEN_FILE)")
	pf.StringVar(&e.caCert, "ca-cert", "", "PEM file of the cluster CA, to trust an https:// agent (default $SHOAL_CA_CERT)")
	pf.StringVar(&e.caFingerprint, "ca-fingerprint", "", "pin the cluster CA by fingerprint sha256:HEX, as shoal cluster ca prints it (default $SHOAL_CA_FINGERPRINT)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf(cmd, "%v", err)
	})
	root.AddCommand(
		newClusterCommand(e),
		newNodeCommand(e),
		newTokenCommand(e),
		newServiceCommand(e),
		newApplyCommand(e),
		newDeleteCommand(e),
		newImageCommand(e),
		newOperatorCommand(e),
		newEventsCommand(e),
		newACLCommand(e),
		newSecretCommand(e),
		newContextCommand(e),
	)
	return root
}

// newGroup makes a command that only holds subcommands: alone it prints
// help, with an unknown subcommand it is a usage error.
func newGroup(use, short string, aliases ...string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Aliases: aliases,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf(cmd, "unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
}

// exactArgs requires n arguments, described by names for the message.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			plural := "s"
			if len(names) == 1 {
				plural = ""
			}
			return usageErrorf(cmd, "%q needs exactly %d argument%s (%s), got %d", cmd.CommandPath(), len(names), plural, joinNames(names), len(args))
		}
		return nil
	}
}

// minArgs requires at least one argument, described by name.
func minArgs(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usageErrorf(cmd, "%q needs at least one %s", cmd.CommandPath(), name)
		}
		return nil
	}
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(cmd, "%q takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += " "
		}
		s += n
	}
	return s
}
