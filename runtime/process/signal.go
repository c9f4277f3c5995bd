package process

import (
	"syscall"

	"github.com/shoal-project/shoal/api"
)

// signalName is the SIG name of sig, or its number if it has none
// (api.Signal's form, which api.ParseSignal reads back).
func signalName(sig syscall.Signal) string { return api.Signal(sig).String() }
