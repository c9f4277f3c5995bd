package containerd

import (
	"context"
	"fmt"
	"time"

	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/internal/textutil"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// pollInterval is how often Wait looks at a task that is not started yet.
const pollInterval = 50 * time.Millisecond

// Wait blocks until the task has exited (or containerd lost it) and
// returns its status. It works the same for tasks started by an earlier
// Runtime: containerd's task Wait is re-obtained from the daemon.
func (r *Runtime) Wait(ctx context.Context, taskID string) (rtapi.Status, error) {
	ctx = r.withNS(ctx)
	c, err := r.load(ctx, taskID)
	if err != nil {
		return rtapi.Status{}, err
	}
	for {
		st, t, err := r.statusOf(ctx, c)
		if err != nil {
			return st, err
		}
		if st.State == rtapi.StateExited || st.State == rtapi.StateUnknown {
			return st, nil
		}
		if t == nil {
			if err := ctxutil.Sleep(ctx, pollInterval); err != nil {
				return st, err
			}
			continue
		}
		ch, err := t.Wait(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return st, ctx.Err()
			}
			return st, fmt.Errorf("task %s: wait: %s", taskID, textutil.OneLine(err.Error()))
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, ctx.Err()
		}
	}
}
