//go:build race

package process

// raceEnabled: the shim is the race-instrumented test binary, far bigger
// than the real one, so memory limits are not checked.
const raceEnabled = true
