package process

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	rtapi "github.com/shoal-project/shoal/runtime"
)

// secretsDirName is the task directory's secrets directory: a tmpfs with
// one file per secret while the task has secrets (rtapi.MountSecretDir).
// The workload finds it in $SHOAL_SECRETS_DIR.
const secretsDirName = "secrets"

// secretsEnvVar names the workload's secrets directory.
const secretsEnvVar = "SHOAL_SECRETS_DIR"

// withSecretsEnv checks the names of the task's secrets and, if it has
// any, sets SHOAL_SECRETS_DIR in env (replacing a value the spec gave).
func withSecretsEnv(env []string, dir string, secrets []rtapi.Secret) ([]string, error) {
	if len(secrets) == 0 {
		return env, nil
	}
	if err := rtapi.CheckSecretNames(secrets); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, secretsEnvVar+"=") {
			out = append(out, kv)
		}
	}
	return append(out, secretsEnvVar+"="+filepath.Join(dir, secretsDirName)), nil
}

// mountSecrets puts the task's secrets on a fresh tmpfs in its directory
// dir; a task without secrets gets none.
func mountSecrets(dir string, spec rtapi.TaskSpec) error {
	if len(spec.Secrets) == 0 {
		return nil
	}
	uid, gid := secretOwner(spec)
	return rtapi.MountSecretDir(filepath.Join(dir, secretsDirName), spec.Secrets, uid, gid)
}

// unmountSecrets removes the secrets tmpfs of the task directory dir, if
// it has one. It works without any state in memory, so after an agent
// restart too.
func unmountSecrets(dir string) error {
	return rtapi.UnmountSecretDir(filepath.Join(dir, secretsDirName))
}

// secretOwner is who owns a task's secret files when Prepare writes them:
// root. A task with a user gets them when the keeper starts it, once the
// user is resolved on the node (giveSecrets).
func secretOwner(rtapi.TaskSpec) (uid, gid int) { return 0, 0 }

// secretsDirOf returns the secrets directory env names, or "".
func secretsDirOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, secretsEnvVar+"="); ok {
			return v
		}
	}
	return ""
}

// giveSecrets hands a task's secrets directory and files (modes 0500 and
// 0400 stay) to the user it runs as.
func giveSecrets(dir string, id identity) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("secrets: %w", err)
	}
	for _, e := range entries {
		if err := os.Lchown(filepath.Join(dir, e.Name()), int(id.UID), int(id.GID)); err != nil {
			return fmt.Errorf("give secret %s to uid %d: %w", e.Name(), id.UID, err)
		}
	}
	if err := os.Lchown(dir, int(id.UID), int(id.GID)); err != nil {
		return fmt.Errorf("give the secrets to uid %d: %w", id.UID, err)
	}
	return nil
}

// secretsByDescriptor opens a task's secrets directory for a workload
// that runs as a user: the root-only task directory above it cannot be
// searched, so the workload gets the directory as descriptor 3 and
// $SHOAL_SECRETS_DIR names it through /proc/self/fd/3. It returns the
// environment to use and the descriptor to pass (nil without secrets).
func secretsByDescriptor(env []string) ([]string, *os.File, error) {
	dir := secretsDirOf(env)
	if dir == "" {
		return env, nil, nil
	}
	f, err := os.OpenFile(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("secrets dir: %w", err)
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, secretsEnvVar+"=") {
			out = append(out, kv)
		}
	}
	return append(out, secretsEnvVar+"=/proc/self/fd/3"), f, nil
}
