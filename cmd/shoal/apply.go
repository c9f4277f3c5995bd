package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/shoal-project/shoal/api"
)

// readManifests parses every -f file ("-" is stdin) and returns their
// services; a name defined in two files is an error.
func (e *cliEnv) readManifests(cmd *cobra.Command, files []string) ([]api.ManifestService, error) {
	if len(files) == 0 {
		return nil, usageErrorf(cmd, "give a manifest with -f FILE")
	}
	var all []api.ManifestService
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
		specs, err := api.ParseManifestVersions(f, data)
		if err != nil {
			return nil, err
		}
		for _, s := range specs {
			if prev, ok := from[s.Spec.Name]; ok {
				return nil, fmt.Errorf("service %q is defined in both %s and %s", s.Spec.Name, prev, f)
			}
			from[s.Spec.Name] = f
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
differ. Running it again with the same manifest changes nothing.

A service's version key names the stored version the manifest was written
against: apply refuses the whole manifest, before changing anything, when
a service has moved on since (someone else changed it), and each update
applies only to that version. --check-version requires the key on every
service that exists (and refuses it on one that does not).`,
		Args: noArgs,
	}
	var dryRun, checkVersion bool
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "manifest file, .toml or .json; - reads stdin (repeatable)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change (services created, fields changed, tasks replaced) and change nothing")
	cmd.Flags().BoolVar(&checkVersion, "check-version", false, "refuse the manifest unless every existing service's version key is its stored version")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ms, err := e.readManifests(cmd, files)
		if err != nil {
			return err
		}
		c := e.client()
		w := cmd.OutOrStdout()
		// Read every service first: a stale one refuses the whole
		// manifest before anything is written.
		stored := make([]*api.ServiceInfo, len(ms))
		for i, m := range ms {
			if stored[i], err = storedService(cmd.Context(), c, m.Spec.Name); err != nil {
				return err
			}
			if stored[i] != nil && ms[i].Spec.ForceUpdate == 0 {
				// A manifest that does not say it keeps a redeploy
				// (update --force) done; force_update = N redeploys when
				// N is new.
				ms[i].Spec.ForceUpdate = stored[i].Spec.ForceUpdate
			}
			if err := versionCheck(m, stored[i], checkVersion); err != nil {
				return err
			}
		}
		if dryRun {
			var plans []servicePlan
			for i, m := range ms {
				plans = append(plans, planService(m.Spec, stored[i]))
			}
			printPlan(w, plans)
			return nil
		}
		for i, m := range ms {
			spec, cur := m.Spec, stored[i]
			switch {
			case cur == nil:
				if _, err := c.CreateService(cmd.Context(), spec); err != nil {
					return fmt.Errorf("create service %s: %w", spec.Name, err)
				}
				fmt.Fprintf(w, "service %s created\n", spec.Name)
			case sameSpec(spec, cur.Spec):
				fmt.Fprintf(w, "service %s unchanged\n", spec.Name)
			default:
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

// versionCheck refuses a manifest service written against another
// version than the stored one (its version key), or, with required, one
// that exists and has no version key or does not exist and has one.
func versionCheck(m api.ManifestService, cur *api.ServiceInfo, required bool) error {
	name := m.Spec.Name
	switch {
	case cur == nil && m.Version != 0:
		return fmt.Errorf("service %s: the manifest was written against version %d, but the service does not exist (removed since?)", name, m.Version)
	case cur == nil:
		return nil
	case m.Version == 0 && required:
		return fmt.Errorf("service %s: --check-version needs its version key (the stored version is %d)", name, cur.Version)
	case m.Version != 0 && m.Version != cur.Version:
		return fmt.Errorf("service %s is at version %d; the manifest was written against version %d: read it again (shoal service history %s) and reapply", name, cur.Version, m.Version, name)
	}
	return nil
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
		ms, err := e.readManifests(cmd, files)
		if err != nil {
			return err
		}
		c := e.client()
		w := cmd.OutOrStdout()
		for _, m := range ms {
			spec := m.Spec
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
