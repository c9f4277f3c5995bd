package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"syscall"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

var _ rtapi.Execer = (*Runtime)(nil)

// Exec runs argv for a prepared task as its workload runs: on the host,
// with the task's env and work dir, as the spec's user (looked up in the
// node's user database now, as the keeper does at start), in a process
// group of its own. Output is kept up to runtime.ExecOutputLimit. When
// ctx ends, or once argv[0] has exited, the whole group is killed, so no
// process of the command outlives the call.
func (r *Runtime) Exec(ctx context.Context, taskID string, argv []string) (int, []byte, error) {
	if len(argv) == 0 || argv[0] == "" {
		return 126, nil, errors.New("exec: empty command")
	}
	dir, err := r.existingTaskDir(taskID)
	if err != nil {
		return 126, nil, err
	}
	var ls launchSpec
	if err := readJSON(filepath.Join(dir, specFile), &ls); err != nil {
		return 126, nil, fmt.Errorf("task %s: %w", taskID, err)
	}
	var id *identity
	if ls.User != "" {
		u, err := api.ParseUser(ls.User)
		if err != nil {
			return 126, nil, err
		}
		who, err := resolveUser(osUsers{}, u)
		if err != nil {
			return 126, nil, err
		}
		id = &who
	}
	ls.Argv = append([]string(nil), argv...)
	proc, out, err := startWorkload(ls, id)
	if err != nil {
		code := 126
		var se *startError
		if errors.As(err, &se) {
			code = se.code
		}
		return code, nil, err
	}
	var buf rtapi.LimitedBuffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(&buf, out)
		out.Close()
	}()
	exited := make(chan *syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		if st, err := proc.Wait(); err == nil {
			ws, _ = st.Sys().(syscall.WaitStatus)
		}
		exited <- &ws
	}()
	var ws *syscall.WaitStatus
	select {
	case ws = <-exited:
	case <-ctx.Done():
	}
	// Whatever argv[0] left behind holds the output pipe open: end it.
	syscall.Kill(-proc.Pid, syscall.SIGKILL)
	if ws == nil {
		<-exited
		<-copied
		return 137, buf.Bytes(), ctx.Err()
	}
	<-copied
	if ws.Signaled() {
		return 128 + int(ws.Signal()), buf.Bytes(), nil
	}
	return ws.ExitStatus(), buf.Bytes(), nil
}
