package api

import (
	"strings"
	"testing"
)

func TestCheckProtocol(t *testing.T) {
	old := &Node{Name: "old"}
	cur := &Node{Name: "new", Protocol: ProtocolVersion}
	if err := CheckProtocol(CmdCreateService, []*Node{old, cur}); err != nil {
		t.Fatalf("a protocol-1 command was refused: %v", err)
	}
	err := CheckProtocol(CmdNodeRestarting, []*Node{cur, old})
	if err == nil || err.Code != CodeConflict || !strings.Contains(err.Message, "node old speaks 1") {
		t.Fatalf("err = %v, want a conflict naming node old", err)
	}
	if err := CheckProtocol(CmdNodeRestarting, []*Node{cur}); err != nil {
		t.Fatalf("refused with every node current: %v", err)
	}
	for typ, v := range commandProtocol {
		if v > ProtocolVersion || v < 2 {
			t.Errorf("%s is listed at protocol %d; this build speaks %d", typ, v, ProtocolVersion)
		}
	}
}
