package runtime

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// StopWithGrace is the stop sequence runtimes share: it sends stopSig to
// task taskID through signal and gives it grace to exit (wait returning
// no error); then it sends SIGKILL and waits for the exit. A grace of 0
// or less sends SIGKILL at once. signal must treat a task that already
// ended as success; its errors come back prefixed with the task ID. wait
// is the runtime's Wait; its errors come back as they are.
func StopWithGrace(ctx context.Context, taskID string, signal func(syscall.Signal) error, wait func(context.Context, string) (Status, error), stopSig syscall.Signal, grace time.Duration) error {
	if grace > 0 {
		if err := signal(stopSig); err != nil {
			return fmt.Errorf("task %s: %w", taskID, err)
		}
		gctx, cancel := context.WithTimeout(ctx, grace)
		_, err := wait(gctx, taskID)
		cancel()
		if err == nil {
			return nil
		}
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return err
		}
	}
	if err := signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("task %s: %w", taskID, err)
	}
	_, err := wait(ctx, taskID)
	return err
}
