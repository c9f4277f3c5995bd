package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

func newServiceCreateCommand(e *cliEnv) *cobra.Command {
	var flags serviceFlags
	var wait waitFlags
	cmd := &cobra.Command{
		Use:   "create NAME [flags] [-- COMMAND [ARG...]]",
		Short: "Create a service",
		Long: `Create a service and, unless --detach, wait until its tasks run.

With the process runtime the words after NAME (or after --) are the command
line; with --image they are the container's arguments.`,
		Example: `  shoal service create web --replicas 3 -- /usr/bin/python3 -m http.server 8080
  shoal service create cache --image docker.io/library/redis:7 --memory 64MiB`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || cmd.ArgsLenAtDash() == 0 {
				return usageErrorf(cmd, "%q needs a service NAME before the command", cmd.CommandPath())
			}
			return nil
		},
	}
	flags.register(cmd.Flags())
	wait.register(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		spec := api.ServiceSpec{Name: args[0], Replicas: 1}
		if err := flags.apply(cmd, &spec); err != nil {
			return err
		}
		setCommand(&spec, args[1:])
		spec.Normalize()
		if err := spec.Validate(); err != nil {
			return err
		}
		c := e.client()
		info, err := c.CreateService(cmd.Context(), spec)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), info.ID)
		if wait.detach {
			return nil
		}
		return e.waitConverged(cmd, c, spec.Name, info.Version, wait.timeout)
	}
	return cmd
}

// setCommand puts positional words into a spec: the command line of a
// process task, or the arguments of a container.
func setCommand(spec *api.ServiceSpec, words []string) {
	if len(words) == 0 {
		return
	}
	if spec.Image != "" || spec.Runtime == api.RuntimeContainerd {
		spec.Args = words
		return
	}
	spec.Command, spec.Args = words, nil
}

func newServiceUpdateCommand(e *cliEnv) *cobra.Command {
	var flags serviceFlags
	var wait waitFlags
	cmd := &cobra.Command{
		Use:   "update NAME [flags] [-- COMMAND [ARG...]]",
		Short: "Change a service; only the flags given change",
		Long: `Change a service and, unless --detach, wait until its tasks run the new spec.
Only the flags given change; a repeatable flag (--env, --constraint, ...)
replaces the whole list. Words after NAME replace the command line.
--rollback alone is 'shoal service rollback NAME'.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || cmd.ArgsLenAtDash() == 0 {
				return usageErrorf(cmd, "%q needs a service NAME", cmd.CommandPath())
			}
			return nil
		},
	}
	flags.register(cmd.Flags())
	wait.register(cmd)
	var rollback, force bool
	cmd.Flags().BoolVar(&rollback, "rollback", false, "roll back to the version before the current one, as docker service update --rollback")
	cmd.Flags().BoolVar(&force, "force", false, "replace every task by the update policy even if nothing else changed (a redeploy, as docker service update --force)")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c := e.client()
		if rollback {
			if onlyFlags(cmd, "rollback", "detach", "timeout") != "" || len(args) > 1 {
				return usageErrorf(cmd, "--rollback takes no other change (only --detach and --timeout)")
			}
			return e.rollback(cmd, c, args[0], 0, wait)
		}
		cur, err := c.Service(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		spec := cloneSpec(cur.Spec)
		if err := flags.apply(cmd, &spec); err != nil {
			return err
		}
		setCommand(&spec, args[1:])
		if force {
			spec.ForceUpdate++
		}
		spec.Normalize()
		if err := spec.Validate(); err != nil {
			return err
		}
		if sameSpec(spec, cur.Spec) {
			fmt.Fprintf(cmd.OutOrStdout(), "service %s unchanged\n", spec.Name)
			return nil
		}
		info, err := c.UpdateService(cmd.Context(), args[0], api.ServiceUpdateRequest{Spec: &spec, ExpectVersion: cur.Version})
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "service %s updated (version %d)\n", spec.Name, info.Version)
		if wait.detach {
			return nil
		}
		return e.waitConverged(cmd, c, spec.Name, info.Version, wait.timeout)
	}
	return cmd
}

// cloneSpec deep-copies a spec so edits do not alias the original.
func cloneSpec(s api.ServiceSpec) api.ServiceSpec {
	var out api.ServiceSpec
	b, _ := json.Marshal(s)
	_ = json.Unmarshal(b, &out)
	return out
}

// sameSpec compares two specs after normalizing both, ignoring the
// difference between empty and absent lists, and a publish mode the API
// filled in.
func sameSpec(a, b api.ServiceSpec) bool { return sameJSON(normalizedPair(a, b)) }

// normalizedPair returns a (a manifest's spec) and b (as stored)
// normalized, with the publish modes the API gave b's ports filled in on
// a's ports that publish without a mode.
func normalizedPair(a, b api.ServiceSpec) (api.ServiceSpec, api.ServiceSpec) {
	a, b = cloneSpec(a), cloneSpec(b)
	a.Normalize()
	b.Normalize()
	for i := range a.Ports {
		p := &a.Ports[i]
		for _, q := range b.Ports {
			if p.Mode == "" && p.Port != 0 && q.Port == p.Port && q.Protocol == p.Protocol {
				p.Mode = q.Mode
			}
		}
	}
	return a, b
}
