package endpoints

import (
	"net/netip"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// TestComputeSplit: while a blue-green update is held, a port's backends
// carry whether they run the new version and the port its split; once
// promoted the split is 100; otherwise, and for a canary without a
// traffic split, the port is unweighted.
func TestComputeSplit(t *testing.T) {
	nodes := []*api.Node{{ID: "n1", P2PAddr: "127.0.0.1:7000", Status: api.NodeReady}}
	p := uint64(20)
	task := func(id string, version uint64) *api.Task {
		return &api.Task{ID: id, ServiceID: "s1", NodeID: "n1", SpecVersion: version, DesiredState: api.TaskRunning,
			Status: api.TaskStatus{State: api.TaskRunning}}
	}
	tasks := []*api.Task{task("a", 1), task("b", 2), task("c", 3), task("d", 1)}
	for _, tc := range []struct {
		name     string
		pol      api.UpdatePolicy
		st       *api.UpdateStatus
		weighted bool
		split    int
		newIDs   string
	}{
		{"no update", api.UpdatePolicy{TrafficNew: &p}, nil, false, 0, ""},
		{"held", api.UpdatePolicy{TrafficNew: &p}, &api.UpdateStatus{State: api.UpdateCanary, FromVersion: 1, ToVersion: 2}, true, 20, "bc"},
		{"starting", api.UpdatePolicy{TrafficNew: &p}, &api.UpdateStatus{State: api.UpdateUpdating, FromVersion: 1, ToVersion: 2}, true, 20, "bc"},
		{"promoted", api.UpdatePolicy{TrafficNew: &p}, &api.UpdateStatus{State: api.UpdateUpdating, Promoted: true, FromVersion: 1, ToVersion: 2}, true, 100, "bc"},
		{"completed", api.UpdatePolicy{TrafficNew: &p}, &api.UpdateStatus{State: api.UpdateCompleted, Promoted: true, ToVersion: 2}, false, 0, ""},
		{"rollback", api.UpdatePolicy{TrafficNew: &p}, &api.UpdateStatus{State: api.UpdateRollbackStarted, ToVersion: 3}, false, 0, ""},
		{"canary without split", api.UpdatePolicy{Canary: 1}, &api.UpdateStatus{State: api.UpdateCanary, ToVersion: 2}, false, 0, ""},
	} {
		svc := &api.Service{ID: "s1", Version: 3, Spec: api.ServiceSpec{Name: "web", Update: &tc.pol}, UpdateStatus: tc.st,
			Endpoint: api.Endpoint{VIP: "10.43.0.2", Ports: []api.EndpointPort{{Protocol: "tcp", Target: 80}}}}
		out := Compute([]*api.Service{svc}, tasks, nodes)
		port := out[0].Ports[0]
		newIDs := ""
		for _, b := range port.Backends {
			if b.New {
				newIDs += b.TaskID
			}
		}
		if port.Weighted != tc.weighted || port.Split != tc.split || newIDs != tc.newIDs {
			t.Errorf("%s: weighted %v split %d new %q; want %v %d %q", tc.name, port.Weighted, port.Split, newIDs, tc.weighted, tc.split, tc.newIDs)
		}
	}
}

func TestShares(t *testing.T) {
	be := func(isNew ...bool) []Backend {
		var out []Backend
		for i, n := range isNew {
			out = append(out, Backend{TaskID: string(rune('a' + i)), Addr: netip.MustParseAddrPort("127.0.0.1:80"), New: n})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		port  Port
		want  []int
		total int
	}{
		{"unweighted", Port{Backends: be(true, false, false)}, []int{1, 1, 1}, 3},
		{"20% to 1 new of 4", Port{Weighted: true, Split: 20, Backends: be(true, false, false, false)}, []int{60, 80, 80, 80}, 300},
		{"20% to 3 new of 6", Port{Weighted: true, Split: 20, Backends: be(false, true, false, true, true, false)}, []int{240, 60, 240, 60, 60, 240}, 900},
		{"100%: old ones drain", Port{Weighted: true, Split: 100, Backends: be(true, false)}, []int{100, 0}, 100},
		{"0%", Port{Weighted: true, Split: 0, Backends: be(true, false)}, []int{0, 100}, 100},
		{"no new backend yet", Port{Weighted: true, Split: 20, Backends: be(false, false)}, []int{1, 1}, 2},
		{"only new ones", Port{Weighted: true, Split: 20, Backends: be(true)}, []int{1}, 1},
	} {
		got, total := tc.port.Shares()
		sum := 0
		for _, g := range got {
			sum += g
		}
		if total != tc.total || sum != total || len(got) != len(tc.want) {
			t.Errorf("%s: shares %v of %d, want %v of %d", tc.name, got, total, tc.want, tc.total)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: shares %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}
