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
	"github.com/containerd/errdefs"

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
func (r *Runtime) Exec(ctx context.Context, taskID string, argv []string) (code int, output []byte, err error) {
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
	// whatever happens (it has exited, never started, or was killed
	// below), and close its output pipes even if that fails.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), execCleanup)
	defer cancel()
	defer func() {
		if _, derr := p.Delete(cctx); derr != nil && !errdefs.IsNotFound(derr) && err == nil {
			err = fmt.Errorf("exec %s: delete the exec'd process: %s", argv[0], textutil.OneLine(derr.Error()))
		}
		if pio := p.IO(); pio != nil {
			pio.Cancel()
			pio.Close()
		}
	}()

	// Wait before Start, so a quick exit is not missed; it must outlive
	// ctx so that a killed process is still reaped here.
	statusC, err := p.Wait(cctx)
	if err != nil {
		return 126, nil, fmt.Errorf("task %s: exec: %s", taskID, textutil.OneLine(err.Error()))
	}
	if serr := p.Start(ctx); serr != nil {
		if ctx.Err() != nil { // it may have started all the same
			killExec(cctx, p, statusC)
		}
		msg := textutil.OneLine(serr.Error())
		code := 126
		if strings.Contains(msg, "no such file or directory") || strings.Contains(msg, "executable file not found") {
			code = 127
		}
		return code, nil, fmt.Errorf("exec %s: %s", argv[0], msg)
	}
	select {
	case st := <-statusC:
		// Its output is copied until every writer is gone: a child it
		// left running in the container holds it open, so wait no
		// longer than ctx.
		copied := make(chan struct{})
		go func() { p.IO().Wait(); close(copied) }()
		select {
		case <-copied:
		case <-ctx.Done():
		}
		exit, _, werr := st.Result()
		if werr != nil {
			return 126, out.Bytes(), fmt.Errorf("exec %s: %s", argv[0], textutil.OneLine(werr.Error()))
		}
		return int(exit), out.Bytes(), nil
	case <-ctx.Done():
		killExec(cctx, p, statusC)
		return 137, out.Bytes(), ctx.Err()
	}
}

// killExec kills an exec'd process and waits for its exit (or ctx).
func killExec(ctx context.Context, p client.Process, exited <-chan client.ExitStatus) {
	if err := p.Kill(ctx, syscall.SIGKILL); err != nil {
		return // it never started, or is gone
	}
	select {
	case <-exited:
	case <-ctx.Done():
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
