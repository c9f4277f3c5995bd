package executor

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

// fakeRuntime is a runtime.Runtime whose workloads run until stopped. It
// keeps a copy of every spec Prepare was given (secrets included, since
// the executor wipes them afterwards).
type fakeRuntime struct {
	mu       sync.Mutex
	prepared map[string]runtime.TaskSpec
	status   map[string]runtime.Status
	done     map[string]chan struct{} // closed when the workload ends
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{prepared: map[string]runtime.TaskSpec{}, status: map[string]runtime.Status{}, done: map[string]chan struct{}{}}
}

const fakeName = "fake"

func (f *fakeRuntime) Name() string { return fakeName }

func (f *fakeRuntime) Prepare(_ context.Context, spec runtime.TaskSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	secrets := make([]runtime.Secret, len(spec.Secrets))
	for i, s := range spec.Secrets {
		secrets[i] = runtime.Secret{Name: s.Name, Data: append([]byte(nil), s.Data...)}
	}
	spec.Secrets = secrets
	f.prepared[spec.TaskID] = spec
	if _, ok := f.status[spec.TaskID]; !ok {
		f.status[spec.TaskID] = runtime.Status{TaskID: spec.TaskID, State: runtime.StateCreated}
		f.done[spec.TaskID] = make(chan struct{})
	}
	return nil
}

// preparedSpec returns the spec Prepare got for task id.
func (f *fakeRuntime) preparedSpec(id string) (runtime.TaskSpec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.prepared[id]
	return s, ok
}

func (f *fakeRuntime) Start(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[id]
	if !ok {
		return runtime.ErrNotFound
	}
	st.State, st.PID, st.StartedAt = runtime.StateRunning, 4242, time.Now()
	f.status[id] = st
	return nil
}

func (f *fakeRuntime) Wait(ctx context.Context, id string) (runtime.Status, error) {
	f.mu.Lock()
	done, ok := f.done[id]
	f.mu.Unlock()
	if !ok {
		return runtime.Status{}, runtime.ErrNotFound
	}
	select {
	case <-done:
		return f.Status(ctx, id)
	case <-ctx.Done():
		return runtime.Status{}, ctx.Err()
	}
}

func (f *fakeRuntime) Stop(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[id]
	if !ok {
		return runtime.ErrNotFound
	}
	if st.State == runtime.StateRunning {
		st.State, st.ExitCode, st.FinishedAt = runtime.StateExited, 143, time.Now()
		f.status[id] = st
		close(f.done[id])
	}
	return nil
}

func (f *fakeRuntime) Remove(ctx context.Context, id string) error {
	f.Stop(ctx, id, 0)
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.status, id)
	delete(f.done, id)
	return nil
}

func (f *fakeRuntime) Status(_ context.Context, id string) (runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[id]
	if !ok {
		return runtime.Status{}, runtime.ErrNotFound
	}
	return st, nil
}

func (f *fakeRuntime) List(context.Context) ([]runtime.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.Status
	for _, st := range f.status {
		out = append(out, st)
	}
	return out, nil
}

func (f *fakeRuntime) Logs(context.Context, string, runtime.LogOptions) (io.ReadCloser, error) {
	return nil, errors.New("the fake runtime keeps no logs")
}

// execRuntime is a fakeRuntime that also runs commands in its tasks
// (runtime.Execer) with a result the test sets, and whose images declare
// image as their health check (runtime.ImageHealth).
type execRuntime struct {
	*fakeRuntime
	image *api.HealthCheck

	emu   sync.Mutex
	code  int
	out   string
	calls [][]string
}

func newExecRuntime(image *api.HealthCheck) *execRuntime {
	return &execRuntime{fakeRuntime: newFakeRuntime(), image: image}
}

// setResult makes every later exec exit with code and print out.
func (f *execRuntime) setResult(code int, out string) {
	f.emu.Lock()
	defer f.emu.Unlock()
	f.code, f.out = code, out
}

// execs returns the argvs run so far.
func (f *execRuntime) execs() [][]string {
	f.emu.Lock()
	defer f.emu.Unlock()
	return append([][]string(nil), f.calls...)
}

func (f *execRuntime) Exec(ctx context.Context, id string, argv []string) (int, []byte, error) {
	if _, err := f.Status(ctx, id); err != nil {
		return 126, nil, err
	}
	f.emu.Lock()
	defer f.emu.Unlock()
	f.calls = append(f.calls, argv)
	return f.code, []byte(f.out), nil
}

func (f *execRuntime) ImageHealthCheck(ctx context.Context, id string) (*api.HealthCheck, error) {
	if _, ok := f.preparedSpec(id); !ok {
		return nil, runtime.ErrNotFound
	}
	return f.image, nil
}
