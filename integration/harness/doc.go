// Package harness runs real `shoal agent` processes on 127.0.0.1 for the
// integration and chaos tests: it builds the binary once, picks free
// ports, starts, signals and kills agents (and the processes of their
// data dirs), talks to their HTTP API and polls conditions with a
// deadline.
package harness
