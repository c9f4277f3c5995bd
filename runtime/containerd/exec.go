package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"

	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

var _ rtapi.Execer = (*Runtime)(nil)

// execCleanup bounds the calls that kill and delete an exec'd process
// after its caller's context ended.
const execCleanup = 10 * time.Second

// Exec runs argv inside the task's running container as an extra process
// of its containerd task (as docker exec does): the container's user,
// env and working directory, no terminal, stdout and stderr kept up to
// runtime.ExecOutputLimit. Each exec has its own ID; the process is
// killed when ctx ends and always deleted, so none outlives the call.
func (r *Runtime) Exec(ctx context.Context, taskID string, argv []string) (int, []byte, error) {
	if len(argv) == 0 || argv[0] == "" {
		return 126, nil, errors.New("exec: empty command")
	}
	ctx = r.withNS(ctx)
	c, err := r.load(ctx, taskID)
	if err != nil {
		return 126, nil, err
	}
	t, err := task(ctx, c)
	if err != nil {
		return 126, nil, err
	}
	if t == nil {
		return 126, nil, fmt.Errorf("task %s: not running", taskID)
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return 126, nil, fmt.Errorf("task %s: exec: %s", taskID, textutil.OneLine(err.Error()))
	}
	if spec.Process == nil {
		return 126, nil, fmt.Errorf("task %s: exec: the container's spec has no process", taskID)
	}
	ps := *spec.Process
	ps.Args = append([]string(nil), argv...)
	ps.Terminal = false
	ps.ConsoleSize = nil

	var out rtapi.LimitedBuffer
	id, err := execID()
	if err != nil {
		return 126, nil, err
	}
	p, err := t.Exec(ctx, id, &ps, cio.NewCreator(cio.WithStreams(nil, &out, &out)))
	if err != nil {
		return 126, nil, fmt.Errorf("task %s: exec: %s", taskID, textutil.OneLine(err.Error()))
	}
	// From here on the exec'd process exists in the shim: delete it
	// whatever happens, killing it if it still runs.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), execCleanup)
	defer cancel()
	defer p.Delete(cctx, client.WithProcessKill)

	// Wait before Start, so a quick exit is not missed; it must outlive
	// ctx so that a killed process is still reaped here.
	statusC, err := p.Wait(cctx)
	if err != nil {
		return 126, nil, fmt.Errorf("task %s: exec: %s", taskID, textutil.OneLine(err.Error()))
	}
	if err := p.Start(ctx); err != nil {
		msg := textutil.OneLine(err.Error())
		code := 126
		if strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "executable file not found") {
			code = 127
		}
		return code, nil, fmt.Errorf("exec %s: %s", argv[0], msg)
	}
	select {
	case st := <-statusC:
		p.IO().Wait() // all output copied
		code, _, err := st.Result()
		if err != nil {
			return 126, out.Bytes(), fmt.Errorf("exec %s: %s", argv[0], textutil.OneLine(err.Error()))
		}
		return int(code), out.Bytes(), nil
	case <-ctx.Done():
		p.Kill(cctx, syscall.SIGKILL)
		select {
		case <-statusC:
		case <-cctx.Done():
		}
		return 137, out.Bytes(), ctx.Err()
	}
}

// execID is a fresh exec process ID, unique within the task.
func execID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "shoal-exec-" + hex.EncodeToString(b[:]), nil
}
