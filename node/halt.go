package node

import "os"

// haltExitCode is the exit status of an agent that stopped on a log entry
// it cannot apply.
const haltExitCode = 3

// haltOnUnknownCommand stops the agent when the replicated log holds a
// command this build does not know. Skipping it would let this replica
// diverge from the others; stopping keeps the log intact until the node
// runs a build that knows the command (see api.ProtocolVersion).
func (a *Agent) haltOnUnknownCommand(index uint64, err error) {
	a.log.Error("halting on a raft log entry this build cannot apply; upgrade this node's shoal binary and start it again", "index", index, "err", err)
	os.Exit(haltExitCode)
}
