package api

import "fmt"

// ProtocolVersion is the newest command protocol this build applies. A
// build applies every command of its protocol and of the older ones.
//
// The rule that keeps replicas from diverging in a mixed-version cluster:
//   - every node records the protocol it speaks in its node record
//     (Node.Protocol, written when it registers);
//   - the leader proposes a command only when every node in the cluster
//     (down ones too: they may come back and replay the log) speaks the
//     protocol that command needs (ProtocolOf); otherwise the write is
//     refused with a one-line error naming the node to upgrade;
//   - a replica that still meets a command it does not know stops with a
//     clear message instead of skipping it (raft.FSM's halt), so it can
//     never apply the log differently from the others.
//
// Add a command kind, or a new meaning of an existing one, by raising
// ProtocolVersion and listing the command in commandProtocol.
const ProtocolVersion = 2

// commandProtocol lists the commands newer than protocol 1.
var commandProtocol = map[CommandType]int{
	CmdNodeRestarting: 2,
}

// ProtocolOf is the protocol a node must speak to apply commands of type t.
func ProtocolOf(t CommandType) int {
	if v, ok := commandProtocol[t]; ok {
		return v
	}
	return 1
}

// CheckProtocol returns an error naming the first node (by name) that
// cannot apply a command of type t, or nil when every node can.
func CheckProtocol(t CommandType, nodes []*Node) *Error {
	need := ProtocolOf(t)
	if need <= 1 {
		return nil
	}
	for _, n := range nodes {
		if n.ProtocolOf() < need {
			return Errorf(CodeConflict, "%s needs every node at protocol %d; node %s speaks %d: upgrade it first", t, need, n.Name, n.ProtocolOf())
		}
	}
	return nil
}

// ErrUnknownCommand describes a command this build cannot apply.
func ErrUnknownCommand(t CommandType, version int) error {
	return fmt.Errorf("command %q (encoding %d) is unknown to this build (protocol %d, encoding %d)", t, version, ProtocolVersion, CommandVersion)
}
