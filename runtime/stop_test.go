package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeTask dies on SIGKILL, and on the stop signal if it obeys it.
type fakeTask struct {
	obeys   bool
	sigErr  error
	waitErr error

	mu   sync.Mutex
	sigs []syscall.Signal
	dead chan struct{}
}

func newFakeTask(obeys bool) *fakeTask { return &fakeTask{obeys: obeys, dead: make(chan struct{})} }

func (f *fakeTask) signal(sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sigs = append(f.sigs, sig)
	if f.sigErr != nil {
		return f.sigErr
	}
	if sig == syscall.SIGKILL || f.obeys {
		select {
		case <-f.dead:
		default:
			close(f.dead)
		}
	}
	return nil
}

func (f *fakeTask) wait(ctx context.Context, taskID string) (Status, error) {
	if taskID != "t1" {
		return Status{}, fmt.Errorf("wait for %q, want t1", taskID)
	}
	if f.waitErr != nil {
		return Status{}, f.waitErr
	}
	select {
	case <-f.dead:
		return Status{TaskID: taskID, State: StateExited}, nil
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
}

func (f *fakeTask) signals() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprint(f.sigs)
}

func TestStopWithGrace(t *testing.T) {
	term, kill := fmt.Sprint([]syscall.Signal{syscall.SIGUSR1}), fmt.Sprint([]syscall.Signal{syscall.SIGKILL})
	both := fmt.Sprint([]syscall.Signal{syscall.SIGUSR1, syscall.SIGKILL})
	boom := errors.New("boom")
	cases := []struct {
		name    string
		obeys   bool
		grace   time.Duration
		sigErr  error
		waitErr error
		want    string
		wantErr error
		minTook time.Duration
	}{
		{name: "exits within grace", obeys: true, grace: time.Minute, want: term},
		{name: "killed after grace", grace: 200 * time.Millisecond, want: both, minTook: 200 * time.Millisecond},
		{name: "zero grace kills at once", obeys: true, grace: 0, want: kill},
		{name: "negative grace kills at once", obeys: true, grace: -1, want: kill},
		{name: "signal error", grace: time.Minute, sigErr: boom, want: term, wantErr: boom},
		{name: "wait error", grace: time.Minute, waitErr: boom, want: term, wantErr: boom},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeTask(c.obeys)
			f.sigErr, f.waitErr = c.sigErr, c.waitErr
			begin := time.Now()
			err := StopWithGrace(context.Background(), "t1", f.signal, f.wait, syscall.SIGUSR1, c.grace)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if c.sigErr != nil && !strings.HasPrefix(err.Error(), "task t1: ") {
				t.Fatalf("signal error %q does not name the task", err)
			}
			if got := f.signals(); got != c.want {
				t.Fatalf("signals = %s, want %s", got, c.want)
			}
			if took := time.Since(begin); took < c.minTook {
				t.Fatalf("took %s, less than the grace", took)
			}
		})
	}
}

func TestStopWithGraceContextEnds(t *testing.T) {
	f := newFakeTask(false)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- StopWithGrace(ctx, "t1", f.signal, f.wait, syscall.SIGTERM, time.Minute) }()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("StopWithGrace did not return when its context ended")
	}
	if got, want := f.signals(), fmt.Sprint([]syscall.Signal{syscall.SIGTERM}); got != want {
		t.Fatalf("signals = %s, want %s (no SIGKILL once the caller gave up)", got, want)
	}
}
