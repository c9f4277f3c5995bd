package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

// readManifests parses every -f file ("-" is stdin) and returns their specs;
// a name defined in two files is an error.
func (e *cliEnv) readManifests(cmd *cobra.Command, files []string) ([]api.ServiceSpec, error) {
	if len(files) == 0 {
		return nil, usageErrorf(cmd, "give a manifest with -f FILE")
	}
	var all []api.ServiceSpec
	from := map[string]string{}
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(io.LimitReader(e.stdin, api.MaxManifestSize+1))
		} else {
			data, err = readLimited(f)
		}
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %v", f, err)
		}
		specs, err := api.ParseManifest(f, data)
		if err != nil {
			return nil, err
		}
		for _, s := range specs {
			if prev, ok := from[s.Name]; ok {
				return nil, fmt.Errorf("service %q is defined in both %s and %s", s.Name, prev, f)
			}
			from[s.Name] = f
		}
		all = append(all, specs...)
	}
	return all, nil
}

func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, api.MaxManifestSize+1))
}

func newApplyCommand(e *cliEnv) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Create or update the services of a manifest (TOML or JSON)",
		Long: `Create the services of a manifest that do not exist and update those that
differ. Running it again with the same manifest changes nothing.`,
		Args: noArgs,
	}
	var dryRun bool
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "manifest file, .toml or .json; - reads stdin (repeatable)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change (services created, fields changed, tasks replaced) and change nothing")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		specs, err := e.readManifests(cmd, files)
		if err != nil {
			return err
		}
		c := e.client()
		w := cmd.OutOrStdout()
		if dryRun {
			var plans []servicePlan
			for _, spec := range specs {
				cur, err := storedService(cmd.Context(), c, spec.Name)
				if err != nil {
					return err
				}
				plans = append(plans, planService(spec, cur))
			}
			printPlan(w, plans)
			return nil
		}
		for _, spec := range specs {
			cur, err := storedService(cmd.Context(), c, spec.Name)
			switch {
			case err != nil:
				return err
			case cur == nil:
				if _, err := c.CreateService(cmd.Context(), spec); err != nil {
					return fmt.Errorf("create service %s: %w", spec.Name, err)
				}
				fmt.Fprintf(w, "service %s created\n", spec.Name)
			case sameSpec(spec, cur.Spec):
				fmt.Fprintf(w, "service %s unchanged\n", spec.Name)
			default:
				spec := spec
				info, err := c.UpdateService(cmd.Context(), spec.Name, api.ServiceUpdateRequest{Spec: &spec, ExpectVersion: cur.Version})
				if err != nil {
					return fmt.Errorf("update service %s: %w", spec.Name, err)
				}
				fmt.Fprintf(w, "service %s updated (version %d)\n", spec.Name, info.Version)
			}
		}
		return nil
	}
	return cmd
}

// storedService returns the service named name as stored, or nil when
// there is none.
func storedService(ctx context.Context, c *api.Client, name string) (*api.ServiceInfo, error) {
	cur, err := c.Service(ctx, name)
	switch {
	case api.CodeOf(err) == api.CodeNotFound:
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &cur, nil
}

func newDeleteCommand(e *cliEnv) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "delete -f FILE",
		Short: "Remove the services a manifest defines",
		Args:  noArgs,
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "manifest file, .toml or .json; - reads stdin (repeatable)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		specs, err := e.readManifests(cmd, files)
		if err != nil {
			return err
		}
		c := e.client()
		w := cmd.OutOrStdout()
		for _, spec := range specs {
			err := c.RemoveService(cmd.Context(), spec.Name)
			switch {
			case api.CodeOf(err) == api.CodeNotFound:
				fmt.Fprintf(w, "service %s not found\n", spec.Name)
			case err != nil:
				return fmt.Errorf("remove service %s: %w", spec.Name, err)
			default:
				fmt.Fprintf(w, "service %s removed\n", spec.Name)
			}
		}
		return nil
	}
	return cmd
}
