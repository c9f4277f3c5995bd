package executor

import (
	"log/slog"

	"github.com/shoal-project/shoal/api"
)

// taskLog is the executor's logger with t's IDs as attributes: task,
// service and slot.
func (e *Executor) taskLog(t api.Task) *slog.Logger {
	service := t.ServiceName
	if service == "" {
		service = t.Spec.Name
	}
	return e.log.With("task", t.ID, "service", service, "slot", t.Slot)
}

// logStatus records a status the executor took for t at info: "task
// running" with its pid, "task failed" with the reason, "task complete"
// with the exit code, and so on.
func (e *Executor) logStatus(t api.Task, st api.TaskStatus) {
	args := make([]any, 0, 8)
	if st.PID > 0 {
		args = append(args, "pid", st.PID)
	}
	if st.ExitCode != nil {
		args = append(args, "exit_code", *st.ExitCode)
	}
	if st.Err != "" {
		args = append(args, "reason", st.Err)
	}
	switch st.Message {
	case "", "preparing", "starting", "started", "stopped", "finished":
		// the state says it
	default:
		args = append(args, "detail", st.Message) // "re-attached", say
	}
	e.taskLog(t).Info("task "+st.State.String(), args...)
}
