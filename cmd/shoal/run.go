package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/internal/textutil"
)

// extraCommands are added to the root command by run; agent.go registers
// `shoal agent` and the shim here from its init.
var extraCommands []func() *cobra.Command

// run executes the shoal command line and returns the process exit code:
// 0 on success, 2 for usage errors (and unplaceable services), 1 otherwise.
// Errors are printed as one line, "shoal: <message>", on stderr.
func run(args []string) int {
	return runWith(args, defaultEnv(), os.Stdout, os.Stderr)
}

func runWith(args []string, env *cliEnv, stdout, stderr io.Writer) int {
	root := newRoot(env)
	for _, mk := range extraCommands {
		root.AddCommand(mk())
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	msg := strings.Replace(textutil.OneLine(err.Error()), " Did you mean this? ", "; did you mean: ", 1)
	fmt.Fprintf(stderr, "shoal: %s\n", msg)
	return exitCode(err)
}

// exitCode maps an error to a process exit code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command ") {
		return 2
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// usageError is a mistake on the command line (exit code 2).
type usageError struct {
	msg string
}

func (e *usageError) Error() string { return e.msg }

// usageErrorf makes a usage error that points at cmd's help.
func usageErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...) + fmt.Sprintf(" (see '%s --help')", cmd.CommandPath())}
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
