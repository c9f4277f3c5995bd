package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/integration/harness"
)

// TestJSONLogs: with --log-format json every line an agent logs is a JSON
// object with time, level and msg, IDs as attributes.
func TestJSONLogs(t *testing.T) {
	c := startCluster(t, 2, "--log-format", "json")
	joiner := c.agents[1]
	harness.WaitFor(t, 20*time.Second, "the join logged", func() (bool, string) {
		return strings.Contains(joiner.Output(), "joined cluster"), joiner.Output()
	})
	// The joiner prints nothing but its log; the bootstrap node also
	// prints the join command on stdout.
	var joined map[string]any
	for _, line := range strings.Split(strings.TrimSpace(joiner.Output()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", line, err)
		}
		for _, key := range []string{"time", "level", "msg"} {
			if _, ok := rec[key]; !ok {
				t.Fatalf("line %q has no %q", line, key)
			}
		}
		if strings.HasPrefix(rec["msg"].(string), "joined cluster") {
			joined = rec
		}
	}
	if joined == nil || joined["level"] != "INFO" || joined["cluster"] == nil || joined["node"] != "n2" {
		t.Fatalf("joined record %v, want level INFO with cluster and node n2", joined)
	}
	var admitted bool
	for _, line := range strings.Split(c.agents[0].Output(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "join admitted" && rec["node"] == "n2" {
			admitted = true
		}
	}
	if !admitted {
		t.Fatalf("the leader did not log the join as JSON; output:\n%s", c.agents[0].Output())
	}
}
