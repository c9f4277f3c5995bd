package api

import (
	"fmt"
	"strconv"
	"strings"
)

// Signal is a Linux signal number, as a service's stop signal names it.
// The zero Signal is unset.
type Signal int

// SIGTERM is the stop signal of a spec that names none.
const SIGTERM Signal = 15

// MaxSignal is the highest Linux signal number (SIGRTMAX).
const MaxSignal = 64

// signalNames are the Linux names of signals 1-31, without "SIG".
var signalNames = [...]string{1: "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1",
	"SEGV", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
	"URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS"}

// ParseSignal reads a stop signal. It is the one signal grammar of Shoal:
// API validation, the process runtime and the containerd runtime all use
// it. It accepts the name of a Linux signal 1-31, with or without the SIG
// prefix and in any case ("SIGTERM", "term"), or a number from 1 to 64
// ("15", real-time signals included). Surrounding space is ignored; the
// empty string means SIGTERM.
func ParseSignal(s string) (Signal, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return SIGTERM, nil
	}
	if n, err := strconv.Atoi(t); err == nil {
		if n < 1 || n > MaxSignal {
			return 0, fmt.Errorf("stop signal %q: number out of range 1-%d", s, MaxSignal)
		}
		return Signal(n), nil
	}
	name := strings.ToUpper(t)
	name = strings.TrimPrefix(name, "SIG")
	for n, known := range signalNames {
		if n > 0 && name == known {
			return Signal(n), nil
		}
	}
	return 0, fmt.Errorf("stop signal %q: unknown signal (a name such as SIGTERM, SIGINT or SIGQUIT, or a number 1-%d)", s, MaxSignal)
}

// String is the signal's SIG name, or its number if it has none ("34").
func (s Signal) String() string {
	if s > 0 && int(s) < len(signalNames) {
		return "SIG" + signalNames[s]
	}
	return strconv.Itoa(int(s))
}

// MarshalText writes the signal as String does.
func (s Signal) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a signal with ParseSignal.
func (s *Signal) UnmarshalText(b []byte) error {
	v, err := ParseSignal(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
