package node

import (
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/raft"
)

func TestCheckTransferTarget(t *testing.T) {
	servers := []raft.Server{{ID: "a", Voter: true}, {ID: "b", Voter: true}, {ID: "c", Voter: true}, {ID: "d"}}
	alive := map[string]bool{"a": true, "b": true, "d": true, "e": true}
	name := func(id string) string { return "node-" + id }
	cases := []struct {
		to, want string
	}{
		{"b", ""},
		{"", ""},
		{"c", "node node-c is not up (down or restarting)"},
		{"d", "node node-d is a non-voter; only a voter can lead"},
		{"e", "node node-e is not a Raft server"},
	}
	for _, c := range cases {
		err := checkTransferTarget(c.to, "a", servers, alive, name)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("to %q: %v", c.to, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || api.CodeOf(err) != api.CodeConflict):
			t.Errorf("to %q: got %v, want a conflict containing %q", c.to, err, c.want)
		}
	}
	if err := checkTransferTarget("", "a", servers[:1], alive, name); err == nil {
		t.Error("a lone voter may hand leadership to nobody")
	}
}
