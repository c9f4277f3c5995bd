package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/runtime"
)

// fakeFetcher hands out secret values, failing the first fails[name]
// fetches of a name (every one for -1).
type fakeFetcher struct {
	mu     sync.Mutex
	values map[string]string
	fails  map[string]int
	calls  []string // "task/name", in order
	given  [][]byte // every slice handed out
}

func (f *fakeFetcher) FetchSecret(_ context.Context, taskID, name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, taskID+"/"+name)
	if n := f.fails[name]; n != 0 {
		f.fails[name] = n - 1
		return nil, fmt.Errorf("leader: secret %s is not for task %s", name, taskID)
	}
	v, ok := f.values[name]
	if !ok {
		return nil, errors.New("unknown secret")
	}
	b := []byte(v)
	f.given = append(f.given, b)
	return b, nil
}

// callsOf counts the fetches of one "task/name".
func (f *fakeFetcher) callsOf(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secretTask is a task of the fake runtime that names secrets.
func secretTask(id string, secrets ...string) api.Task {
	t := shTask(id, "")
	t.Spec.Runtime = fakeName
	t.Spec.Secrets = secrets
	return t
}

// secretsConfig makes a node run the fake runtime rt with fetcher f (if
// not nil) and log into logs too.
func secretsConfig(t *testing.T, rt *fakeRuntime, f SecretFetcher, logs io.Writer) func(*Config) {
	return func(c *Config) {
		c.Runtimes = map[string]runtime.Runtime{fakeName: rt}
		if f != nil {
			c.Secrets = f
		}
		c.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), nil))
	}
}

// assertNoSecretIn fails the test if a regular file under dir holds one of
// values.
func assertNoSecretIn(t *testing.T, dir string, skip func(path string) bool, values ...string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || skip != nil && skip(path) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds a secret", path)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walking %s: %v (%d files)", dir, err, files)
	}
}

func TestSecretsReachPrepare(t *testing.T) {
	const db, key = "db-PASS-5e1f0c", "api-KEY-93ab7d"
	rt := newFakeRuntime()
	f := &fakeFetcher{values: map[string]string{"db-password": db, "api-key": key}, fails: map[string]int{"api-key": 1}}
	var logs syncBuffer
	en := newEnv(t)
	n := en.start(secretsConfig(t, rt, f, &logs))
	n.e.SetAssignments([]api.Task{secretTask("t1", "db-password", "api-key")})
	n.waitReported("t1", api.TaskRunning)

	spec, _ := rt.preparedSpec("t1")
	want := []runtime.Secret{{Name: "db-password", Data: []byte(db)}, {Name: "api-key", Data: []byte(key)}}
	if fmt.Sprint(spec.Secrets) != fmt.Sprint(want) || string(spec.Secrets[0].Data) != db || string(spec.Secrets[1].Data) != key {
		t.Fatalf("Prepare got secrets %v, want %v with their values", spec.Secrets, want)
	}
	if a, b := f.callsOf("t1/db-password"), f.callsOf("t1/api-key"); a != 1 || b != 2 {
		t.Errorf("fetched db-password %d and api-key %d times, want 1 and 2 (one retry)", a, b)
	}
	n.waitIdle()
	n.stop()
	assertNoSecretIn(t, en.stateDir, nil, db, key)
	if s := logs.String(); strings.Contains(s, db) || strings.Contains(s, key) {
		t.Errorf("the log holds a secret:\n%s", s)
	}
	for _, b := range f.given {
		if strings.Trim(string(b), "\x00") != "" {
			t.Errorf("a fetched secret was not wiped after Prepare: %q", b)
		}
	}
}

func TestSecretFetchErrorRejectsTask(t *testing.T) {
	rt := newFakeRuntime()
	f := &fakeFetcher{values: map[string]string{"db-password": "v1"}, fails: map[string]int{"api-key": -1}}
	n := newEnv(t).start(secretsConfig(t, rt, f, io.Discard))
	n.e.SetAssignments([]api.Task{secretTask("t1", "db-password", "api-key")})
	st := n.waitReported("t1", api.TaskRejected)
	if want := "secret api-key: leader: secret api-key is not for task t1"; st.Err != want {
		t.Errorf("rejected with %q, want %q", st.Err, want)
	}
	if c := f.callsOf("t1/api-key"); c != secretFetchAttempts {
		t.Errorf("api-key fetched %d times, want %d", c, secretFetchAttempts)
	}
	if _, ok := rt.preparedSpec("t1"); ok {
		t.Error("a task whose secret could not be fetched was prepared")
	}
	n.stop()
	if len(f.given) != 1 || string(f.given[0]) != "\x00\x00" {
		t.Errorf("the secret fetched before the failure was not wiped: %q", f.given)
	}
}

func TestSecretsWithoutFetcherRejectTask(t *testing.T) {
	rt := newFakeRuntime()
	n := newEnv(t).start(secretsConfig(t, rt, nil, io.Discard))
	n.e.SetAssignments([]api.Task{secretTask("t1", "db-password"), secretTask("t2")})
	st := n.waitReported("t1", api.TaskRejected)
	if !strings.HasPrefix(st.Err, "secret db-password: ") || !strings.Contains(st.Err, "no secret fetcher") {
		t.Errorf("rejected with %q, want it to name the secret and the missing fetcher", st.Err)
	}
	n.waitReported("t2", api.TaskRunning) // no secrets, no fetcher needed
}

// TestSecretsReachProcessTask runs a task that prints its secret through
// the process runtime: the secret arrives intact although the executor
// wipes its copy once the task is prepared.
func TestSecretsReachProcessTask(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("secrets need root for their tmpfs")
	}
	const value = "proc-SECRET-41c9aa"
	f := &fakeFetcher{values: map[string]string{"db-password": value}}
	en := newEnv(t)
	n := en.start(func(c *Config) { c.Secrets = f })
	task := shTask("t1", `cat "$SHOAL_SECRETS_DIR/db-password"`)
	task.Spec.Secrets = []string{"db-password"}
	n.e.SetAssignments([]api.Task{task})
	n.waitReported("t1", api.TaskComplete)
	rc, err := n.e.Logs(ctxT(t), "t1", runtime.LogOptions{Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	if string(out) != value {
		t.Fatalf("the task printed %q, want its secret", out)
	}
	n.waitIdle()
	assertNoSecretIn(t, en.stateDir, nil, value)
	assertNoSecretIn(t, en.root, func(path string) bool {
		return strings.Contains(path, "/secrets/") || strings.HasPrefix(filepath.Base(path), "output.log")
	}, value)
}
