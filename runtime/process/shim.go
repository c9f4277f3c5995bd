package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// reportFD is the descriptor on which the shim tells Start whether the
// workload started: one JSON shimReport, then EOF.
const reportFD = 3

// outputDrainGrace is how long the shim keeps copying output after the
// workload has exited (its process group is killed first; this only
// matters for descendants that left the group but kept the pipe).
const outputDrainGrace = 2 * time.Second

// shimReport is what the shim sends to Start.
type shimReport struct {
	PID      int    `json:"pid,omitempty"`
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
}

// RunShim is the `shoal runtime-shim <task-dir>` command: it supervises one
// workload of the process runtime and returns the shim's exit code. The
// runtime starts it in a new session with the report pipe on descriptor 3;
// it is not meant to be run by hand.
func RunShim(args []string) int {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		fmt.Fprintln(os.Stderr, "usage: shoal runtime-shim <absolute task dir> (internal command of the process runtime)")
		return 2
	}
	syscall.CloseOnExec(reportFD) // the workload must not inherit the report pipe
	report := os.NewFile(reportFD, "report")
	if err := runShim(args[0], report); err != nil {
		fmt.Fprintf(os.Stderr, "runtime-shim %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// startError is a failure to start the workload, with the exit code the
// task is given for it.
type startError struct {
	code int
	err  error
}

func (e *startError) Error() string { return e.err.Error() }

func runShim(dir string, report *os.File) error {
	defer report.Close()
	var ls launchSpec
	if err := readJSON(filepath.Join(dir, specFile), &ls); err != nil {
		return failStart(dir, report, &startError{126, fmt.Errorf("read launch spec: %w", err)})
	}
	// Forward termination signals to the workload's process group instead
	// of dying and losing its exit status.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	out, err := openRotator(filepath.Join(dir, logFile), ls.MaxLogBytes, ls.MaxLogFiles)
	if err != nil {
		return failStart(dir, report, &startError{126, fmt.Errorf("open log: %w", err)})
	}
	defer out.Close()
	// Orphans of the workload become our children, so that we can reap
	// them (the host's init may not).
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	proc, pipe, err := startWorkload(ls)
	if err != nil {
		return failStart(dir, report, err)
	}
	started := time.Now().UTC()
	pid := proc.Pid
	proc.Release() // reapChildren waits for it
	mainStatus := make(chan syscall.WaitStatus, 1)
	reaped := make(chan struct{})
	go reapChildren(pid, mainStatus, reaped)
	st := shimState{ShimPID: os.Getpid(), ShimStart: processStart(os.Getpid()), PID: pid, PIDStart: processStart(pid), StartedAt: started}
	if err := writeJSONAtomic(filepath.Join(dir, stateFile), st); err != nil {
		syscall.Kill(-pid, syscall.SIGKILL)
		<-mainStatus
		return failStart(dir, report, &startError{126, fmt.Errorf("write state: %w", err)})
	}
	json.NewEncoder(report).Encode(shimReport{PID: pid}) // Start may be gone; nothing to do then
	report.Close()

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyOutput(out, pipe)
	}()
	go func() {
		for s := range sigs {
			syscall.Kill(-pid, s.(syscall.Signal))
		}
	}()
	ws := <-mainStatus
	finished := time.Now().UTC()
	// The task ends with its main process: stop whatever it left behind.
	syscall.Kill(-pid, syscall.SIGKILL)
	drain := time.NewTimer(outputDrainGrace)
	defer drain.Stop()
	select {
	case <-copied:
	case <-drain.C:
		pipe.Close()
		<-copied
	}
	select {
	case <-reaped:
	case <-drain.C: // descendants that left the group may live on
	}
	rec := exitRecord{StartedAt: started, FinishedAt: finished}
	if ws.Signaled() {
		rec.ExitCode, rec.Signal = 128+int(ws.Signal()), signalName(ws.Signal())
	} else {
		rec.ExitCode = ws.ExitStatus()
	}
	return writeJSONAtomic(filepath.Join(dir, exitFile), rec)
}

// reapChildren waits for every child of the shim (the workload and, as
// subreaper, its orphans), sends the workload's status on main, and closes
// done when no child is left.
func reapChildren(mainPID int, main chan<- syscall.WaitStatus, done chan<- struct{}) {
	defer close(done)
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		if pid == mainPID && (ws.Exited() || ws.Signaled()) {
			main <- ws
		}
	}
}

// copyOutput copies the workload's output into the log until EOF. Write
// errors (a full disk) do not stop it: the pipe must keep draining so the
// workload never blocks on its output.
func copyOutput(out io.Writer, pipe io.Reader) {
	buf := make([]byte, 32<<10)
	var reported bool
	for {
		n, err := pipe.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil && !reported {
				fmt.Fprintf(os.Stderr, "runtime-shim: write log: %v\n", werr)
				reported = true
			}
		}
		if err != nil {
			return
		}
	}
}

// failStart records a workload that could not start, tells Start, and
// returns the error.
func failStart(dir string, report io.Writer, err error) error {
	code := 126
	var se *startError
	if errors.As(err, &se) {
		code = se.code
	}
	now := time.Now().UTC()
	rec := exitRecord{ExitCode: code, FinishedAt: now, Err: err.Error()}
	werr := writeJSONAtomic(filepath.Join(dir, exitFile), rec)
	json.NewEncoder(report).Encode(shimReport{Error: err.Error(), ExitCode: code})
	if werr != nil {
		return fmt.Errorf("%v (and recording it failed: %v)", err, werr)
	}
	return err
}
