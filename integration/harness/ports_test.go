package harness

import (
	"fmt"
	"net"
	"testing"
)

func TestPickPortIsFreeBelowTheEphemeralRangeAndNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 20; i++ {
		port := FreePort(t)
		if port < 20000 || port >= 32000 || seen[port] {
			t.Fatalf("port %d (seen before: %v)", port, seen[port])
		}
		seen[port] = true
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		l.Close()
	}
}
