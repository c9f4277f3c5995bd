package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// defaultPath is the workload's PATH when the agent has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Prepare validates spec and creates the task's directory (root's only),
// work directory, secrets tmpfs (see mountSecrets) and launch spec.
// Calling it again before Start rewrites the launch spec and the secrets;
// after Start it does nothing.
func (r *Runtime) Prepare(ctx context.Context, spec rtapi.TaskSpec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, err := r.taskDir(spec.TaskID)
	if err != nil {
		return err
	}
	if fileExists(filepath.Join(dir, startedFile)) {
		return nil
	}
	ls, err := r.launchSpec(dir, spec)
	if err != nil {
		return fmt.Errorf("task %s: %w", spec.TaskID, err)
	}
	// The task's directory holds the keeper's files: only root may enter
	// it, whoever the workload runs as (it owns the work dir inside).
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("task %s: create task dir: %w", spec.TaskID, err)
	}
	if err := os.MkdirAll(ls.Dir, 0o755); err != nil {
		return fmt.Errorf("task %s: create work dir: %w", spec.TaskID, err)
	}
	if err := mountSecrets(dir, spec); err != nil {
		return fmt.Errorf("task %s: %w", spec.TaskID, err)
	}
	if err := writeJSONAtomic(filepath.Join(dir, specFile), ls); err != nil {
		return fmt.Errorf("task %s: write launch spec: %w", spec.TaskID, err)
	}
	return nil
}

// launchSpec resolves spec into what the shim runs.
func (r *Runtime) launchSpec(dir string, spec rtapi.TaskSpec) (launchSpec, error) {
	s := spec.Spec
	if s.Runtime != "" && s.Runtime != Name {
		return launchSpec{}, fmt.Errorf("service %q wants runtime %q, not %q", s.Name, s.Runtime, Name)
	}
	if len(s.Command) == 0 || s.Command[0] == "" {
		return launchSpec{}, fmt.Errorf("service %q: command is empty", s.Name)
	}
	argv := append(append([]string{}, s.Command...), s.Args...)
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return launchSpec{}, fmt.Errorf("command argument %d contains a NUL byte", i)
		}
	}
	workDir, err := resolveWorkDir(filepath.Join(dir, workDirName), s.WorkDir)
	if err != nil {
		return launchSpec{}, err
	}
	user := ""
	if s.User != "" {
		u, err := api.ParseUser(s.User)
		if err != nil {
			return launchSpec{}, err
		}
		user = u.String()
	}
	env, err := buildEnv(spec)
	if err != nil {
		return launchSpec{}, err
	}
	if env, err = withSecretsEnv(env, dir, spec.Secrets); err != nil {
		return launchSpec{}, err
	}
	if r.extraEnv != nil {
		env = append(env, r.extraEnv()...)
	}
	sig, err := api.ParseSignal(s.StopSignal)
	if err != nil {
		return launchSpec{}, err
	}
	if s.StopGracePeriod < 0 {
		return launchSpec{}, fmt.Errorf("stop grace period %s is negative", time.Duration(s.StopGracePeriod))
	}
	return launchSpec{
		TaskID:      spec.TaskID,
		Argv:        argv,
		Env:         env,
		Dir:         workDir,
		User:        user,
		StopSignal:  sig.String(),
		StopGrace:   time.Duration(s.StopGracePeriod),
		MaxLogBytes: r.maxLogBytes,
		MaxLogFiles: r.maxLogFiles,
	}, nil
}

// resolveWorkDir places the spec's work dir under the task's work root. A
// leading "/" is taken as the work root itself; ".." is refused.
func resolveWorkDir(workRoot, wd string) (string, error) {
	if strings.IndexByte(wd, 0) >= 0 {
		return "", errors.New("workdir contains a NUL byte")
	}
	for _, part := range strings.Split(filepath.ToSlash(wd), "/") {
		if part == ".." {
			return "", fmt.Errorf("workdir %q must not contain \"..\"", wd)
		}
	}
	return filepath.Join(workRoot, filepath.Clean("/"+wd)), nil
}

// buildEnv makes the workload's environment: PATH and HOME from the agent
// (HOME only for a task that runs as root: the keeper sets the user's),
// then spec.Env, then PORT (unless spec.Env has one) and the SHOAL_*
// variables (which always win; see rtapi.PortEnv).
func buildEnv(spec rtapi.TaskSpec) ([]string, error) {
	var keys []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	set("PATH", path)
	if home := os.Getenv("HOME"); home != "" && spec.Spec.User == "" {
		set("HOME", home)
	}
	for _, kv := range spec.Spec.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("env entry %q is not KEY=VALUE", kv)
		}
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("env entry for %q contains a NUL byte", k)
		}
		set(k, v)
	}
	for _, kv := range rtapi.PortEnv(spec.Spec.Ports) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := vals[k]; ok && k == "PORT" {
			continue // the spec's own PORT wins
		}
		set(k, v)
	}
	set("SHOAL_SERVICE", spec.ServiceName)
	set("SHOAL_SLOT", strconv.FormatUint(spec.Slot, 10))
	set("SHOAL_TASK_ID", spec.TaskID)
	set("SHOAL_NODE", spec.NodeName)
	env := make([]string, len(keys))
	for i, k := range keys {
		env[i] = k + "=" + vals[k]
	}
	return env, nil
}
