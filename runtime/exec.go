package runtime

import (
	"context"
	"sync"
)

// ExecOutputLimit is how much of an exec'd command's output (stdout and
// stderr together) Exec keeps: the first 4 KiB, as docker keeps of a
// health check's output.
const ExecOutputLimit = 4096

// Execer runs a command in a running task's context: inside its container
// for the containerd runtime, on the host as the task's user with its env
// and work dir for the process runtime. Health checks use it.
type Execer interface {
	// Exec runs argv in the task and waits for it. exitCode is the
	// command's (128+N when killed by signal N); output is at most
	// ExecOutputLimit bytes of its stdout and stderr. When ctx ends first
	// the command is killed and Exec returns ctx's error. err is also set
	// when the command could not be run at all (the task is not running,
	// argv[0] does not exist), with exitCode 126 or 127 as a shell's.
	// Nothing the command started is left behind in the runtime.
	Exec(ctx context.Context, taskID string, argv []string) (exitCode int, output []byte, err error)
}

// LimitedBuffer is an io.Writer that keeps the first Limit bytes written
// to it and drops the rest (ExecOutputLimit when Limit is 0). It is safe
// for concurrent use, so stdout and stderr may share one.
type LimitedBuffer struct {
	Limit int

	mu  sync.Mutex
	buf []byte
}

// Write keeps what fits and always reports all of p as written.
func (b *LimitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := b.Limit
	if limit == 0 {
		limit = ExecOutputLimit
	}
	if room := limit - len(b.buf); room > 0 {
		if len(p) > room {
			b.buf = append(b.buf, p[:room]...)
		} else {
			b.buf = append(b.buf, p...)
		}
	}
	return len(p), nil
}

// Bytes returns a copy of what was kept.
func (b *LimitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}
