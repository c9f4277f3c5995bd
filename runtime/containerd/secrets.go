package containerd

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// secretsTarget is where a container finds its secrets, one file each.
const secretsTarget = "/run/secrets"

// secretsDir is <Root>/tasks/<taskID>/secrets: the host tmpfs that holds
// the task's secrets while it exists (rtapi.MountSecretDir).
func (r *Runtime) secretsDir(taskID string) string {
	return filepath.Join(r.taskDir(taskID), "secrets")
}

// secretsMount is the read-only bind mount of a task's secrets dir at
// /run/secrets.
func secretsMount(dir string) specs.Mount {
	return specs.Mount{
		Destination: secretsTarget,
		Type:        "bind",
		Source:      dir,
		Options:     []string{"rbind", "ro", "nosuid", "nodev", "noexec"},
	}
}

// withSecretsMount checks the names of the task's secrets and, if it has
// any, adds their mount to mounts; a spec mount at or below /run/secrets
// is then refused, since it would hide them or be hidden.
func (r *Runtime) withSecretsMount(spec rtapi.TaskSpec, mounts []specs.Mount) ([]specs.Mount, error) {
	if len(spec.Secrets) == 0 {
		return mounts, nil
	}
	if err := rtapi.CheckSecretNames(spec.Secrets); err != nil {
		return nil, err
	}
	for _, m := range mounts {
		if within(secretsTarget, m.Destination) {
			return nil, fmt.Errorf("mount target %q: %s holds the task's secrets", m.Destination, secretsTarget)
		}
	}
	return append(mounts, secretsMount(r.secretsDir(spec.TaskID))), nil
}

// mountSecrets puts the task's secrets on a fresh tmpfs in its secrets
// dir (the task's directory must exist); a task without secrets gets
// none. The files are root's, mode 0400.
func (r *Runtime) mountSecrets(spec rtapi.TaskSpec) error {
	if len(spec.Secrets) == 0 {
		return nil
	}
	return rtapi.MountSecretDir(r.secretsDir(spec.TaskID), spec.Secrets, 0, 0)
}

// remountSecrets is mountSecrets for a container created earlier: its
// secrets tmpfs may be gone (a reboot) and is replaced.
func (r *Runtime) remountSecrets(spec rtapi.TaskSpec) error {
	if err := r.mountSecrets(spec); err != nil {
		return fmt.Errorf("task %s: %w", spec.TaskID, err)
	}
	return nil
}

// removeTaskDir unmounts the task's secrets and deletes its directory.
func (r *Runtime) removeTaskDir(taskID string) error {
	if err := rtapi.UnmountSecretDir(r.secretsDir(taskID)); err != nil {
		return err
	}
	return os.RemoveAll(r.taskDir(taskID))
}
