package gossip

import (
	"testing"
	"time"
)

func TestTmpLeaveOrder(t *testing.T) {
	gs := cluster(t, 3, nil)
	_ = gs[2].Leave(2 * time.Second)
	_ = gs[2].Shutdown()
	for _, g := range gs[:2] {
		ev := nextEvent(t, g, "n2", waitLong, EventLeave, EventDead)
		if ev.Type != EventLeave {
			t.Errorf("%s first saw %v", g.name, ev.Type)
		}
	}
}
