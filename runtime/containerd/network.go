package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// setupNetwork gives the task its own network namespace unless its spec
// says network = "host" or the runtime has no Network that is available
// (no subnet: the cluster has no CIDR); it returns the namespace's path
// and the task's IP, both empty on the host network.
func (r *Runtime) setupNetwork(ctx context.Context, spec rtapi.TaskSpec) (netns, ip string, err error) {
	n := r.cfg.Network
	if n == nil || spec.Spec.Network == api.NetworkHost || !n.Available() {
		return "", "", nil
	}
	return n.Setup(ctx, spec.TaskID, spec.Spec.Ports)
}

// teardownNetwork undoes setupNetwork after a failed prepare, adding its
// own failure to *err.
func (r *Runtime) teardownNetwork(ctx context.Context, taskID string, err *error) {
	n := r.cfg.Network
	if n == nil {
		return
	}
	if terr := n.Teardown(context.WithoutCancel(ctx), taskID); terr != nil {
		*err = fmt.Errorf("%w (and removing its network failed: %v)", *err, terr)
	}
}

// resolvConfMount writes the task's /etc/resolv.conf — the node's DNS
// server, the cluster's search domain — into dir and returns the mount
// that puts it in the container, read-only. A task on the host network,
// or a node without a DNS server, keeps the image's or host's file.
func (r *Runtime) resolvConfMount(dir, netns string) (*specs.Mount, error) {
	n := r.cfg.Network
	if n == nil || netns == "" || n.Nameserver() == "" {
		return nil, nil
	}
	path := filepath.Join(dir, "resolv.conf")
	conf := "nameserver " + n.Nameserver() + "\nsearch shoal\noptions ndots:1\n"
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("resolv.conf: %w", err)
	}
	return &specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: path, Options: []string{"rbind", "ro"}}, nil
}
