package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The keeper is the one process per Root (`shoal runtime-shim <root>`,
// RunShim) that supervises every task of the runtime: it is the parent of
// every workload and, as child subreaper, of their orphans; it copies
// their output into rotated log files and records each exit in the task's
// directory. It runs in its own session, so it outlives the agent, and it
// exits once it has had no task for keeperIdle. Everything a later agent
// (or keeper) needs is in the task directories; the keeper itself holds no
// state that is not also there.
//
// Agents talk to it over keeper.sock in Root: one request (start this
// task) and one shimReport per connection. Every agent holds a shared
// flock on keeper.use from before it connects until it has the report;
// the keeper only exits (removing the socket first) while it can take
// that lock exclusively, so a request is never lost to an exiting keeper:
// an agent that finds no socket starts a new keeper, which waits for the
// old one's keeper.lock.

// reportFD is the descriptor on which the keeper tells the agent that
// started it whether it serves: one JSON shimReport, then EOF.
const reportFD = 3

// outputDrainGrace is how long the keeper keeps copying a task's output
// after its workload has exited (its process group is killed first; this
// only matters for descendants that left the group but kept the pipe).
const outputDrainGrace = 2 * time.Second

// keeperIdle is how long the keeper lingers without a task before exiting.
const keeperIdle = time.Second

// copyBufSize is the per-task output copy buffer.
const copyBufSize = 16 << 10

// shimReport is what the keeper sends the agent: for a start request, the
// workload's PID or why it could not start; on its report descriptor,
// nothing or why it cannot serve.
type shimReport struct {
	PID      int    `json:"pid,omitempty"`
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exit_code,omitempty"`
}

// keeperRequest asks the keeper to start a prepared task.
type keeperRequest struct {
	Task string `json:"task"`
}

// RunShim is the `shoal runtime-shim <root>` command: the keeper of the
// process runtime whose state is in root (see above). It returns the exit
// code. The runtime starts it in a new session with the report pipe on
// descriptor 3; it is not meant to be run by hand.
func RunShim(args []string) int {
	if len(args) != 1 || !filepath.IsAbs(args[0]) {
		fmt.Fprintln(os.Stderr, "usage: shoal runtime-shim <absolute runtime root> (internal command of the process runtime)")
		return 2
	}
	syscall.CloseOnExec(reportFD) // workloads must not inherit the report pipe
	report := os.NewFile(reportFD, "report")
	if err := runKeeper(args[0], report); err != nil {
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

// keeper is the state of the keeper process.
type keeper struct {
	root  string
	pid   int
	start uint64 // our /proc start time

	mu       sync.Mutex
	tasks    map[int]*keptTask // by workload PID, until it is reaped
	starting map[string]bool   // task IDs being started
	active   int               // tasks started whose exit is not recorded yet
	idle     time.Time         // when active last dropped to 0 (zero while > 0)
	closed   bool              // no longer serving
	changed  chan struct{}     // active dropped to 0
	kick     chan struct{}     // a child was started (wakes the reaper)
}

// keptTask is a running workload.
type keptTask struct {
	id       string
	pid      int
	pipe     *os.File
	finished time.Time               // set by the reaper before status is sent
	status   chan syscall.WaitStatus // the workload's exit status
}

func runKeeper(root string, report *os.File) error {
	defer report.Close()
	fail := func(err error) error {
		json.NewEncoder(report).Encode(shimReport{Error: err.Error()})
		return err
	}
	lock, err := lockKeeper(root)
	if err != nil {
		return fail(err)
	}
	if lock == nil { // another keeper serves root
		return nil
	}
	defer lock.Close()
	// Orphans of the workloads become our children, so that we can reap
	// them (the host's init may not).
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("become child subreaper: %w", err))
	}
	sock := filepath.Join(root, keeperSockFile)
	os.Remove(sock) // left by a keeper that died; we hold the lock
	var ln *net.UnixListener
	err = withSocketPath(root, func(path string) error {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			l.SetUnlinkOnClose(false) // path may go through a closed descriptor; removed by name below
			ln = l
		}
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("listen: %w", err))
	}
	k := &keeper{
		root: root, pid: os.Getpid(),
		tasks: map[int]*keptTask{}, starting: map[string]bool{},
		idle: time.Now(), changed: make(chan struct{}, 1), kick: make(chan struct{}, 1),
	}
	k.start = processStart(k.pid)
	go k.reap()
	// Termination signals go to every workload's process group instead of
	// killing us and losing their exit status.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	go func() {
		for s := range sigs {
			k.signalAll(s.(syscall.Signal))
		}
	}()
	go k.serve(ln)
	shedStartupPages()
	json.NewEncoder(report).Encode(shimReport{})
	report.Close()
	k.waitIdle()
	os.Remove(sock)
	ln.Close()
	return nil
}

// lockKeeper takes root's keeper.lock, waiting for a keeper that is
// exiting; it returns nil, nil if another keeper serves root.
func lockKeeper(root string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(root, keeperLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			f.Truncate(0)
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // for people
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if c, err := dialKeeperNow(root); err == nil {
			c.Close()
			f.Close()
			return nil, nil
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("another keeper holds %s but does not answer on %s", f.Name(), keeperSockFile)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// withSocketPath calls fn with a name for root's keeper socket that fits
// in a sockaddr_un: its path or, for a long root, one through /proc.
func withSocketPath(root string, fn func(path string) error) error {
	p := filepath.Join(root, keeperSockFile)
	if len(p) < 100 {
		return fn(p)
	}
	d, err := os.OpenFile(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn("/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + keeperSockFile)
}

// dialKeeperNow connects to root's keeper.
func dialKeeperNow(root string) (*net.UnixConn, error) {
	var c *net.UnixConn
	err := withSocketPath(root, func(path string) error {
		var err error
		c, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		return err
	})
	return c, err
}

// serve handles connections until ln is closed.
func (k *keeper) serve(ln *net.UnixListener) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			fmt.Fprintf(os.Stderr, "runtime-shim: accept: %v\n", err)
			time.Sleep(50 * time.Millisecond) // e.g. out of descriptors
			continue
		}
		go k.handle(c)
	}
}

// handle serves one start request.
func (k *keeper) handle(c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(shimStartTimeout))
	var rep shimReport
	var req keeperRequest
	if err := checkPeer(c); err != nil {
		rep.Error = err.Error()
	} else if err := json.NewDecoder(io.LimitReader(c, 4096)).Decode(&req); err != nil {
		return
	} else {
		var t *keptTask
		rep, t = k.startTask(req.Task)
		if t != nil {
			if _, err := c.Write(append(mustJSON(rep), '\n')); err != nil {
				// The agent gave up on this start: do not leave a workload
				// running that it does not know of. Its exit is recorded.
				fmt.Fprintf(os.Stderr, "runtime-shim: task %s: report start: %v; killing it\n", t.id, err)
				syscall.Kill(-t.pid, syscall.SIGKILL)
			}
			return
		}
	}
	c.Write(append(mustJSON(rep), '\n'))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// checkPeer accepts only clients running as our user (or root).
func checkPeer(c *net.UnixConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *unix.Ucred
	var cerr error
	rc.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return cerr
	}
	if cred.Uid != 0 && int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("uid %d may not start tasks", cred.Uid)
	}
	return nil
}

// startTask starts the prepared task id and returns the report for the
// agent and, if the workload runs, the task (its supervisor is running).
func (k *keeper) startTask(id string) (shimReport, *keptTask) {
	if err := validTaskID(id); err != nil {
		return shimReport{Error: err.Error(), ExitCode: 126}, nil
	}
	dir := filepath.Join(k.root, "tasks", id)
	k.mu.Lock()
	switch {
	case k.closed:
		k.mu.Unlock()
		return shimReport{Error: "keeper is exiting", ExitCode: 126}, nil
	case k.starting[id] || fileExists(filepath.Join(dir, stateFile)) || fileExists(filepath.Join(dir, exitFile)):
		k.mu.Unlock()
		return shimReport{Error: fmt.Sprintf("task %s: already started", id), ExitCode: 126}, nil
	case !fileExists(filepath.Join(dir, startedFile)):
		k.mu.Unlock()
		return shimReport{Error: fmt.Sprintf("task %s: not prepared and marked started", id), ExitCode: 126}, nil
	}
	k.starting[id] = true
	k.active++
	k.idle = time.Time{}
	k.mu.Unlock()
	rep, t := k.launch(id, dir)
	k.mu.Lock()
	delete(k.starting, id)
	k.mu.Unlock()
	if t == nil {
		k.done()
	}
	return rep, t
}

// launch starts the workload of the task in dir and its supervisor, or
// records why it could not start.
func (k *keeper) launch(id, dir string) (shimReport, *keptTask) {
	var ls launchSpec
	if err := readJSON(filepath.Join(dir, specFile), &ls); err != nil {
		return failStart(dir, &startError{126, fmt.Errorf("read launch spec: %w", err)}), nil
	}
	who, err := runAs(ls, filepath.Join(dir, workDirName), osUsers{})
	if err != nil {
		return failStart(dir, &startError{126, err}), nil
	}
	out, err := openRotator(filepath.Join(dir, logFile), ls.MaxLogBytes, ls.MaxLogFiles)
	if err != nil {
		return failStart(dir, &startError{126, fmt.Errorf("open log: %w", err)}), nil
	}
	// The reaper looks workloads up under mu: holding it from the fork to
	// the registration means it cannot miss one that exits at once.
	k.mu.Lock()
	proc, pipe, err := startWorkload(ls, who)
	if err != nil {
		k.mu.Unlock()
		out.Close()
		return failStart(dir, err), nil
	}
	t := &keptTask{id: id, pid: proc.Pid, pipe: pipe, status: make(chan syscall.WaitStatus, 1)}
	k.tasks[t.pid] = t
	k.mu.Unlock()
	proc.Release() // the reaper waits for it
	select {
	case k.kick <- struct{}{}:
	default:
	}
	started := time.Now().UTC()
	st := shimState{ShimPID: k.pid, ShimStart: k.start, PID: t.pid, PIDStart: processStart(t.pid), StartedAt: started, Keeper: true}
	if err := writeJSONAtomic(filepath.Join(dir, stateFile), st); err != nil {
		syscall.Kill(-t.pid, syscall.SIGKILL)
		<-t.status
		pipe.Close()
		out.Close()
		return failStart(dir, &startError{126, fmt.Errorf("write state: %w", err)}), nil
	}
	go k.supervise(dir, t, out, started)
	return shimReport{PID: t.pid}, t
}

// supervise copies the task's output until the workload is gone, then
// records its exit.
func (k *keeper) supervise(dir string, t *keptTask, out *rotator, started time.Time) {
	defer k.done()
	copyOutput(out, t.pipe, t.id) // until EOF, or the drain deadline the reaper sets
	t.pipe.Close()
	ws := <-t.status
	// Let the reaper collect what the group's SIGKILL left, so that no
	// process of the task is alive once its exit is recorded.
	for syscall.Kill(-t.pid, 0) == nil && time.Since(t.finished) < outputDrainGrace {
		time.Sleep(5 * time.Millisecond)
	}
	if err := out.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "runtime-shim: task %s: close log: %v\n", t.id, err)
	}
	rec := exitRecord{StartedAt: started, FinishedAt: t.finished}
	if ws.Signaled() {
		rec.ExitCode, rec.Signal = 128+int(ws.Signal()), signalName(ws.Signal())
	} else {
		rec.ExitCode = ws.ExitStatus()
	}
	// The log is closed before the exit file appears: readers take the
	// exit file as "all output is written", Remove as "the keeper is done".
	for i := 0; ; i++ {
		err := writeJSONAtomic(filepath.Join(dir, exitFile), rec)
		if err == nil || errors.Is(err, os.ErrNotExist) || i == 5 {
			if err != nil {
				fmt.Fprintf(os.Stderr, "runtime-shim: task %s: record exit %d: %v\n", t.id, rec.ExitCode, err)
			}
			return
		}
		time.Sleep(time.Second) // e.g. a full disk
	}
}

// done marks one task as finished.
func (k *keeper) done() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.active--
	if k.active == 0 {
		k.idle = time.Now()
		select {
		case k.changed <- struct{}{}:
		default:
		}
	}
}

// reap waits for every child (workloads and, as subreaper, their
// orphans). When a workload ends it kills the rest of its process group,
// bounds the output drain and hands the status to its supervisor.
func (k *keeper) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.ECHILD):
			<-k.kick // no child until the next start
			continue
		case err != nil:
			fmt.Fprintf(os.Stderr, "runtime-shim: wait: %v\n", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !ws.Exited() && !ws.Signaled() {
			continue
		}
		k.mu.Lock()
		t := k.tasks[pid]
		delete(k.tasks, pid)
		k.mu.Unlock()
		if t == nil {
			continue // an orphan, or a child os.StartProcess failed to exec
		}
		t.finished = time.Now().UTC()
		// The task ends with its main process: stop whatever it left behind.
		syscall.Kill(-pid, syscall.SIGKILL)
		t.pipe.SetReadDeadline(time.Now().Add(outputDrainGrace))
		t.status <- ws
	}
}

// signalAll sends sig to every running workload's process group.
func (k *keeper) signalAll(sig syscall.Signal) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for pid := range k.tasks {
		syscall.Kill(-pid, sig)
	}
}

// waitIdle returns once the keeper has had no task for keeperIdle and no
// agent is starting one, with the keeper closed to new starts.
func (k *keeper) waitIdle() {
	use, err := os.OpenFile(filepath.Join(k.root, keeperUseFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		// Without the lock we cannot tell whether an agent is about to
		// send a request: serve forever rather than lose one.
		fmt.Fprintf(os.Stderr, "runtime-shim: %v; not exiting when idle\n", err)
		select {}
	}
	defer use.Close()
	for {
		k.mu.Lock()
		idle := k.idle
		k.mu.Unlock()
		if idle.IsZero() {
			<-k.changed
			continue
		}
		if wait := keeperIdle - time.Since(idle); wait > 0 {
			time.Sleep(wait)
			continue
		}
		if unix.Flock(int(use.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
			time.Sleep(50 * time.Millisecond) // an agent is starting a task
			continue
		}
		k.mu.Lock()
		if k.active == 0 && len(k.starting) == 0 {
			k.closed = true
			k.mu.Unlock()
			return // the lock goes with the process, after the socket
		}
		k.mu.Unlock()
		unix.Flock(int(use.Fd()), unix.LOCK_UN)
	}
}

// copyOutput copies the workload's output into the log until EOF or an
// error (the drain deadline). Write errors (a full disk) do not stop it:
// the pipe must keep draining so the workload never blocks on its output.
func copyOutput(out io.Writer, pipe io.Reader, id string) {
	buf := make([]byte, copyBufSize)
	var reported bool
	for {
		n, err := pipe.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil && !reported {
				fmt.Fprintf(os.Stderr, "runtime-shim: task %s: write log: %v\n", id, werr)
				reported = true
			}
		}
		if err != nil {
			return
		}
	}
}

// failStart records a workload that could not start and returns the
// report for the agent.
func failStart(dir string, err error) shimReport {
	code := 126
	var se *startError
	if errors.As(err, &se) {
		code = se.code
	}
	rec := exitRecord{ExitCode: code, FinishedAt: time.Now().UTC(), Err: err.Error()}
	if werr := writeJSONAtomic(filepath.Join(dir, exitFile), rec); werr != nil {
		fmt.Fprintf(os.Stderr, "runtime-shim: %s: %v (and recording it failed: %v)\n", filepath.Base(dir), err, werr)
	}
	return shimReport{Error: err.Error(), ExitCode: code}
}
