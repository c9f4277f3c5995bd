package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// cpuPeriod is the CFS period CPU limits are expressed in (100ms).
const cpuPeriod = 100000

// specOpts builds the container's OCI spec options: the image's config,
// its network (the namespace pinned at netns, or the host's when netns is
// empty; the host's hostname, hosts and resolv.conf either way), the
// spec's overrides and limits, an explicit cgroup path and the mounts.
func (r *Runtime) specOpts(ctx context.Context, img client.Image, ts rtapi.TaskSpec, env []string, mounts []specs.Mount, netns string) ([]oci.SpecOpts, error) {
	s := ts.Spec
	ic, err := img.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("image %s: read config: %s", img.Name(), textutil.OneLine(err.Error()))
	}
	args, err := containerArgs(ic.Config.Entrypoint, ic.Config.Cmd, s.Entrypoint, s.Command, s.Args)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", img.Name(), err)
	}
	hostname, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("hostname: %w", err)
	}
	network := oci.WithHostNamespace(specs.NetworkNamespace)
	if netns != "" {
		network = oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: netns})
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		network,
		oci.WithHostname(hostname),
		oci.WithHostHostsFile,
		oci.WithHostResolvconf,
		oci.WithEnv(env),
		oci.WithProcessArgs(args...),
		oci.WithCgroup(r.cgroupPath(ts.TaskID)),
	}
	if s.WorkDir != "" {
		if !path.IsAbs(s.WorkDir) {
			return nil, fmt.Errorf("workdir %q: must be an absolute path", s.WorkDir)
		}
		opts = append(opts, oci.WithProcessCwd(s.WorkDir))
	}
	if s.User != "" {
		opts = append(opts, oci.WithUser(s.User))
	}
	if m := s.Limits.MemoryBytes; m > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(m)))
	}
	if n := s.Limits.NanoCPUs; n > 0 {
		quota := max(n*cpuPeriod/1e9, 1000) // the kernel's minimum is 1ms
		shares := max(uint64(n)*1024/1e9, 2)
		opts = append(opts, oci.WithCPUCFS(quota, cpuPeriod), oci.WithCPUShares(shares))
	}
	if s.PidsLimit > 0 {
		opts = append(opts, oci.WithPidsLimit(s.PidsLimit))
	}
	if len(mounts) > 0 {
		opts = append(opts, oci.WithMounts(mounts))
	}
	if s.Seccomp != api.SeccompUnconfined {
		// containerd's default profile: Docker's, which blocks the calls
		// that reach past the container (mount, kexec, module loading,
		// namespaces, ...). Applied last: it depends on the capabilities.
		opts = append(opts, seccomp.WithDefaultProfile())
	}
	return opts, nil
}

// containerArgs works out the container's command line the way Docker
// does: the spec's entrypoint replaces the image's (and drops the image's
// command); the spec's Command+Args replace the image's command.
func containerArgs(imgEntrypoint, imgCmd, entrypoint, command, args []string) ([]string, error) {
	ep, cmd := imgEntrypoint, imgCmd
	if len(entrypoint) > 0 {
		ep, cmd = entrypoint, nil
	}
	if len(command)+len(args) > 0 {
		cmd = append(append([]string{}, command...), args...)
	}
	out := append(append([]string{}, ep...), cmd...)
	if len(out) == 0 {
		return nil, errors.New("it has no entrypoint or command, and the service gives none")
	}
	if out[0] == "" {
		return nil, errors.New("the command to run is an empty string")
	}
	return out, nil
}

// taskEnv is spec.Env followed by PORT (unless spec.Env has one) and the
// SHOAL_* variables (which win; see rtapi.PortEnv); the
// image's environment comes first in the container (oci.WithEnv merges).
func taskEnv(ts rtapi.TaskSpec, defaultNode string) ([]string, error) {
	var env []string
	for _, kv := range ts.Spec.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("env entry %q is not KEY=VALUE", kv)
		}
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("env entry for %q contains a NUL byte", k)
		}
		env = append(env, kv)
	}
	node := ts.NodeName
	if node == "" {
		node = defaultNode
	}
	for _, kv := range rtapi.PortEnv(ts.Spec.Ports) {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PORT" && slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PORT=") }) {
			continue // the spec's own PORT wins
		}
		env = append(env, kv)
	}
	return append(env,
		"SHOAL_SERVICE="+ts.ServiceName,
		"SHOAL_SLOT="+strconv.FormatUint(ts.Slot, 10),
		"SHOAL_TASK_ID="+ts.TaskID,
		"SHOAL_NODE="+node,
	), nil
}
