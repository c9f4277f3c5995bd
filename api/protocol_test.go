package api

import (
	"strings"
	"testing"
)

func TestCheckProtocol(t *testing.T) {
	old := &Node{Name: "old"}
	cur := &Node{Name: "new", Protocol: ProtocolVersion}
	two := &Node{Name: "two", Protocol: 2}
	if err := CheckProtocol(Command{Type: CmdCreateService}, []*Node{old, cur}); err != nil {
		t.Fatalf("a protocol-1 command was refused: %v", err)
	}
	err := CheckProtocol(Command{Type: CmdNodeRestarting}, []*Node{cur, old})
	if err == nil || err.Code != CodeConflict || !strings.Contains(err.Message, "node old speaks 1") {
		t.Fatalf("err = %v, want a conflict naming node old", err)
	}
	if err := CheckProtocol(Command{Type: CmdNodeRestarting}, []*Node{cur, two}); err != nil {
		t.Fatalf("refused with every node at protocol 2 or newer: %v", err)
	}
	drain := Command{Type: CmdUpdateNode, Payload: []byte(`{"node_id":"x","availability":"drain","drain_deadline":"2m0s"}`)}
	if err := CheckProtocol(drain, []*Node{cur, two}); err == nil || !strings.Contains(err.Message, "protocol 3; node two speaks 2") {
		t.Fatalf("a drain deadline with a protocol-2 node: %v", err)
	}
	plainDrain := Command{Type: CmdUpdateNode, Payload: []byte(`{"node_id":"x","availability":"drain"}`)}
	if err := CheckProtocol(plainDrain, []*Node{old}); err != nil {
		t.Fatalf("a drain without a deadline was refused: %v", err)
	}
	four := &Node{Name: "four", Protocol: 4}
	deny := Command{Type: CmdRemoveNode, Payload: []byte(`{"node_id":"x","token_nonce":"bm9uY2U=","deny":true}`)}
	if err := CheckProtocol(deny, []*Node{cur, four}); err == nil || !strings.Contains(err.Message, "protocol 5; node four speaks 4") {
		t.Fatalf("a removal with deny and a protocol-4 node: %v", err)
	}
	if err := CheckProtocol(Command{Type: CmdRemoveNode, Payload: []byte(`{"node_id":"x","token_nonce":"bm9uY2U="}`)}, []*Node{cur, four}); err != nil {
		t.Fatalf("a removal without deny was refused at protocol 4: %v", err)
	}
	for typ, v := range commandProtocol {
		if v > ProtocolVersion || v < 2 {
			t.Errorf("%s is listed at protocol %d; this build speaks %d", typ, v, ProtocolVersion)
		}
	}
	for _, f := range fieldProtocol {
		if f.version > ProtocolVersion || f.version < 2 {
			t.Errorf("%s %s is listed at protocol %d; this build speaks %d", f.typ, f.key, f.version, ProtocolVersion)
		}
	}
}
