package api

import (
	"bytes"
	"fmt"
)

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
//     clear message instead of skipping it (state.FSM's halt), so it can
//     never apply the log differently from the others.
//
// Add a command kind, or a new field or meaning of an existing one, by
// raising ProtocolVersion and listing it in commandProtocol or
// fieldProtocol. An older build decodes JSON without complaint about new
// fields, so a new field needs gating as much as a new command does.
//
// Protocols: 1 up to commit 8f4685b; 2 adds graceful restarts
// (node.restarting); 3 adds drain deadlines (node.update's drain_deadline,
// task.write's stop_deadline); 4 adds seccomp profiles and the token
// rotation of node.remove; 5 adds API tokens (acl.*) and the deny list
// (node.remove's deny).
const ProtocolVersion = 5

// commandProtocol lists the command types newer than protocol 1.
var commandProtocol = map[CommandType]int{
	CmdNodeRestarting: 2,
	CmdCreateACLToken: 5,
	CmdRevokeACLToken: 5,
}

// fieldProtocol lists payload fields newer than their command: a command
// whose payload sets one (the JSON key appears; these fields are omitted
// when empty) needs that protocol.
var fieldProtocol = []struct {
	typ     CommandType
	key     string
	version int
}{
	{CmdUpdateNode, `"drain_deadline"`, 3},
	{CmdWriteTasks, `"stop_deadline"`, 3},
	{CmdCreateService, `"seccomp"`, 4},
	{CmdUpdateService, `"seccomp"`, 4},
	{CmdWriteTasks, `"seccomp"`, 4},
	{CmdRemoveNode, `"token_nonce"`, 4},
	{CmdRemoveNode, `"deny"`, 5},
}

// ProtocolOf is the protocol a node must speak to apply cmd.
func ProtocolOf(cmd Command) int {
	need := 1
	if v, ok := commandProtocol[cmd.Type]; ok {
		need = v
	}
	for _, f := range fieldProtocol {
		if f.typ == cmd.Type && f.version > need && bytes.Contains(cmd.Payload, []byte(f.key)) {
			need = f.version
		}
	}
	return need
}

// CheckProtocol returns an error naming the first node (by name) that
// cannot apply cmd, or nil when every node can.
func CheckProtocol(cmd Command, nodes []*Node) *Error {
	need := ProtocolOf(cmd)
	if need <= 1 {
		return nil
	}
	for _, n := range nodes {
		if n.ProtocolOf() < need {
			return Errorf(CodeConflict, "%s needs every node at protocol %d; node %s speaks %d: upgrade it first", cmd.Type, need, n.Name, n.ProtocolOf())
		}
	}
	return nil
}

// ErrUnknownCommand describes a command this build cannot apply.
func ErrUnknownCommand(t CommandType, version int) error {
	return fmt.Errorf("command %q (encoding %d) is unknown to this build (protocol %d, encoding %d)", t, version, ProtocolVersion, CommandVersion)
}
