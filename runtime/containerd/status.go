package containerd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// load returns the task's container, or an error matching
// runtime.ErrNotFound.
func (r *Runtime) load(ctx context.Context, taskID string) (client.Container, error) {
	if err := validTaskID(taskID); err != nil {
		return nil, err
	}
	c, err := r.client.LoadContainer(r.withNS(ctx), taskID)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("task %q: %w", taskID, rtapi.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("task %s: %s", taskID, textutil.OneLine(err.Error()))
	}
	return c, nil
}

// task returns the container's containerd task, or nil if it has none.
func task(ctx context.Context, c client.Container) (client.Task, error) {
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("task %s: %s", c.ID(), textutil.OneLine(err.Error()))
	}
	return t, nil
}

// Status reports the task's status, or runtime.ErrNotFound.
func (r *Runtime) Status(ctx context.Context, taskID string) (rtapi.Status, error) {
	ctx = r.withNS(ctx)
	c, err := r.load(ctx, taskID)
	if err != nil {
		return rtapi.Status{}, err
	}
	st, _, err := r.statusOf(ctx, c)
	return st, err
}

// List reports every container in the namespace that has a shoal.task
// label, sorted by task ID: the tasks to re-attach to after a restart.
func (r *Runtime) List(ctx context.Context) ([]rtapi.Status, error) {
	ctx = r.withNS(ctx)
	cs, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q", labelTask))
	if err != nil {
		return nil, fmt.Errorf("list containers: %s", textutil.OneLine(err.Error()))
	}
	out := make([]rtapi.Status, 0, len(cs))
	for _, c := range cs {
		st, _, err := r.statusOf(ctx, c)
		if errdefs.IsNotFound(err) {
			continue // removed meanwhile
		}
		if err != nil {
			st = rtapi.Status{TaskID: c.ID(), State: rtapi.StateUnknown, Err: err.Error()}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TaskID < out[j].TaskID })
	return out, nil
}

// statusOf works out a container's status from its labels and its
// containerd task, which it also returns (nil if there is none).
func (r *Runtime) statusOf(ctx context.Context, c client.Container) (rtapi.Status, client.Task, error) {
	st := rtapi.Status{TaskID: c.ID()}
	labels, err := c.Labels(ctx)
	if err != nil {
		return st, nil, err
	}
	st.StartedAt = parseTime(labels[labelStartedAt])
	st.IP = labels[labelIP]
	if code, ok := labels[labelExitCode]; ok {
		// Start failed; there is no containerd task.
		st.State = rtapi.StateExited
		st.ExitCode, _ = strconv.Atoi(code)
		st.FinishedAt = parseTime(labels[labelFinishedAt])
		st.Err = labels[labelError]
		return st, nil, nil
	}
	t, err := task(ctx, c)
	if err != nil {
		return st, nil, err
	}
	if t == nil {
		if st.StartedAt.IsZero() {
			st.State = rtapi.StateCreated
		} else {
			st.State = rtapi.StateUnknown
			st.Err = "containerd has no task for this started container; its exit status is lost"
		}
		return st, nil, nil
	}
	st.PID = int(t.Pid())
	ts, err := t.Status(ctx)
	if errdefs.IsNotFound(err) {
		st.State = rtapi.StateUnknown
		st.Err = "containerd task disappeared"
		return st, nil, nil
	}
	if err != nil {
		return st, t, fmt.Errorf("task %s: %s", c.ID(), textutil.OneLine(err.Error()))
	}
	switch ts.Status {
	case client.Running, client.Paused, client.Pausing:
		st.State = rtapi.StateRunning
	case client.Created:
		if st.StartedAt.IsZero() {
			st.State = rtapi.StateCreated
		} else {
			st.State = rtapi.StateRunning // starting
		}
	case client.Stopped:
		st.State = rtapi.StateExited
		st.ExitCode = int(ts.ExitStatus)
		st.FinishedAt = ts.ExitTime.UTC()
		st.OOMKilled = r.oomKilled(c.ID())
		if st.OOMKilled && st.Err == "" {
			st.Err = "killed by the kernel's OOM killer (memory limit reached)"
		}
	default:
		st.State = rtapi.StateUnknown
		st.Err = fmt.Sprintf("containerd reports task status %q", ts.Status)
	}
	return st, t, nil
}

// oomKilled reports whether the kernel's OOM killer killed a process in
// the task's memory cgroup (cgroup v1 memory.oom_control, or cgroup v2
// memory.events).
func (r *Runtime) oomKilled(taskID string) bool {
	cg := r.cgroupPath(taskID)
	for _, f := range []string{
		filepath.Join(cgroupRoot, "memory", cg, "memory.oom_control"),
		filepath.Join(cgroupRoot, cg, "memory.events"),
	} {
		if n, ok := readCounter(f, "oom_kill"); ok {
			return n > 0
		}
	}
	return false
}

// readCounter reads "key N" from a cgroup file of such lines.
func readCounter(path, key string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
