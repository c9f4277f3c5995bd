package process

import (
	"path/filepath"
	"strings"

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

// secretOwner is who owns a task's secret files: root for now, like the
// workload; the `user` support wires the task's user here.
func secretOwner(rtapi.TaskSpec) (uid, gid int) { return 0, 0 }
