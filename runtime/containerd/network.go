package containerd

import (
	"context"
	"fmt"

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
