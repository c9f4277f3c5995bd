package process

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ParseSignal reads a stop signal as written in a service spec: a name with
// or without the SIG prefix, in any case ("SIGTERM", "term"), or a number
// ("15"). The empty string means SIGTERM.
func ParseSignal(s string) (syscall.Signal, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return syscall.SIGTERM, nil
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("stop signal %q: number out of range 1-64", s)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(t)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("stop signal %q: unknown signal name", s)
	}
	return sig, nil
}

// signalName is the SIG name of sig, or its number if it has none.
func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return strconv.Itoa(int(sig))
}
