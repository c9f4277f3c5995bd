package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// procStat is what this package needs from /proc/<pid>/stat.
type procStat struct {
	State byte   // R, S, D, Z, X, ...
	Start uint64 // start time in clock ticks since boot
}

// parseProcStat reads the contents of a /proc/<pid>/stat file. The command
// name (field 2) may contain spaces and parentheses, so fields are counted
// from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("proc stat: no ')' after the command name")
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); field 22 (starttime) is fields[19].
	if len(fields) < 20 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after the command name, want at least 20", len(fields))
	}
	if len(fields[0]) != 1 {
		return procStat{}, fmt.Errorf("proc stat: bad state %q", fields[0])
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("proc stat: bad start time %q", fields[19])
	}
	return procStat{State: fields[0][0], Start: start}, nil
}

// readProcStat reads /proc/<pid>/stat; ok is false if there is no such
// process.
func readProcStat(pid int) (st procStat, ok bool) {
	if pid <= 0 {
		return procStat{}, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	st, err = parseProcStat(b)
	return st, err == nil
}

// processAlive reports whether pid is a live (not zombie) process that
// started at start; start 0 skips the PID-reuse check.
func processAlive(pid int, start uint64) bool {
	st, ok := readProcStat(pid)
	if !ok || st.State == 'Z' || st.State == 'X' {
		return false
	}
	return start == 0 || st.Start == start
}

// processStart returns the /proc start time of pid, or 0 if unknown.
func processStart(pid int) uint64 {
	st, _ := readProcStat(pid)
	return st.Start
}
