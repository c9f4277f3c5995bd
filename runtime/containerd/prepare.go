package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// Prepare validates the spec, makes sure its image is present and unpacked
// (pulling it from its registry if not), and creates the container: its
// snapshot, OCI spec and labels, and the task's directory (log, secrets
// tmpfs). Calling it again for a prepared task only mounts its secrets
// afresh (a reboot loses them). On error nothing of the task is left (no
// container, no snapshot, no directory).
func (r *Runtime) Prepare(ctx context.Context, spec rtapi.TaskSpec) error {
	if err := validTaskID(spec.TaskID); err != nil {
		return err
	}
	defer r.lock(spec.TaskID)()
	ctx = r.withNS(ctx)
	if _, err := r.client.LoadContainer(ctx, spec.TaskID); err == nil {
		return r.remountSecrets(spec)
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("task %s: %s", spec.TaskID, textutil.OneLine(err.Error()))
	}
	if err := r.prepare(ctx, spec); err != nil {
		return fmt.Errorf("task %s: %w", spec.TaskID, err)
	}
	return nil
}

func (r *Runtime) prepare(ctx context.Context, spec rtapi.TaskSpec) error {
	s := spec.Spec
	if s.Image == "" {
		return errors.New("service spec has no image")
	}
	if _, err := api.ParseSignal(s.StopSignal); err != nil {
		return err
	}
	if s.StopGracePeriod < 0 {
		return fmt.Errorf("stop grace period %s is negative", time.Duration(s.StopGracePeriod))
	}
	mounts, err := r.ociMounts(s.Mounts)
	if err != nil {
		return err
	}
	if mounts, err = r.withSecretsMount(spec, mounts); err != nil {
		return err
	}
	if err := checkLimits(s.Limits.NanoCPUs, s.Limits.MemoryBytes, s.PidsLimit); err != nil {
		return err
	}
	env, err := taskEnv(spec, r.cfg.NodeName)
	if err != nil {
		return err
	}
	img, err := r.ensureImage(ctx, s.Image)
	if err != nil {
		return err
	}
	imgHealth := ""
	if s.Health == nil { // the spec's own check, or its disable, wins
		if imgHealth, err = imageHealthLabel(ctx, img); err != nil {
			return err
		}
	}
	netns, ip, err := r.setupNetwork(ctx, spec)
	if err != nil {
		return err
	}
	if ip != "" {
		env = append(env, "SHOAL_TASK_IP="+ip)
	}
	if err := os.MkdirAll(r.taskDir(spec.TaskID), 0o700); err != nil {
		r.teardownNetwork(ctx, spec.TaskID, &err)
		return err
	}
	resolv, err := r.resolvConfMount(r.taskDir(spec.TaskID), netns)
	if err != nil {
		r.teardownNetwork(ctx, spec.TaskID, &err)
		return err
	}
	if resolv != nil {
		mounts = append(mounts, *resolv)
	}
	opts, err := r.specOpts(ctx, img, spec, env, mounts, netns)
	if err != nil {
		r.teardownNetwork(ctx, spec.TaskID, &err)
		return err
	}
	node := spec.NodeName
	if node == "" {
		node = r.cfg.NodeName
	}
	labels := map[string]string{
		labelService:    spec.ServiceName,
		labelTask:       spec.TaskID,
		labelSlot:       strconv.FormatUint(spec.Slot, 10),
		labelNode:       node,
		labelStopSignal: s.StopSignal,
		labelStopGrace:  time.Duration(s.StopGracePeriod).String(),
	}
	if ip != "" {
		labels[labelIP] = ip
	}
	if imgHealth != "" {
		labels[labelImageHealth] = imgHealth
	}
	dir := r.taskDir(spec.TaskID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		r.teardownNetwork(ctx, spec.TaskID, &err)
		return err
	}
	if err := r.mountSecrets(spec); err != nil {
		os.RemoveAll(dir)
		r.teardownNetwork(ctx, spec.TaskID, &err)
		return err
	}
	_, err = r.client.NewContainer(ctx, spec.TaskID,
		client.WithImage(img),
		client.WithSnapshotter(snapshotter),
		client.WithNewSnapshot(spec.TaskID, img),
		client.WithNewSpec(opts...),
		client.WithContainerLabels(labels),
		client.WithRuntime(runcRuntime, nil))
	if err != nil {
		// WithNewSnapshot may have made the snapshot before a later
		// option failed.
		dctx := context.WithoutCancel(ctx)
		if rerr := r.client.SnapshotService(snapshotter).Remove(dctx, spec.TaskID); rerr != nil && !errdefs.IsNotFound(rerr) {
			err = fmt.Errorf("%s (and removing its snapshot failed: %s)", textutil.OneLine(err.Error()), textutil.OneLine(rerr.Error()))
		}
		r.removeTaskDir(spec.TaskID)
		r.teardownNetwork(ctx, spec.TaskID, &err)
		return fmt.Errorf("create container: %s", textutil.OneLine(err.Error()))
	}
	return nil
}

// checkLimits rejects negative resource limits.
func checkLimits(nanoCPUs, memoryBytes, pids int64) error {
	switch {
	case nanoCPUs < 0:
		return fmt.Errorf("CPU limit %d nano-CPUs is negative", nanoCPUs)
	case memoryBytes < 0:
		return fmt.Errorf("memory limit %d bytes is negative", memoryBytes)
	case memoryBytes > 0 && memoryBytes < 4<<20:
		return fmt.Errorf("memory limit %d bytes is below the 4 MiB a container needs", memoryBytes)
	case pids < 0:
		return fmt.Errorf("pids limit %d is negative", pids)
	}
	return nil
}
