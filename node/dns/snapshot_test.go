package dns

import (
	"net"
	"slices"
	"testing"
)

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

func TestSnapshot(t *testing.T) {
	s := NewSnapshot(
		[]Service{
			{Name: "Web", Ports: []Port{{Name: "HTTP", Port: 80}, {Port: 9000}, {Name: "q", Protocol: "UDP", Port: 53}}},
			{Name: "vip", Addr: "10.43.0.5"},
		},
		[]Task{
			{Service: "web", Label: "2", IP: "10.42.0.9"},
			{Service: "WEB", Label: "1", IP: "10.42.0.3"},
			{Service: "web", Label: "1", IP: "10.42.0.4"}, // a slot's old and new task during an update
			{Service: "web", Label: "3", IP: "not an ip"},
			{Service: "gone", Label: "1", IP: "10.42.0.7"},
			{Service: "vip", Label: "1", IP: "10.42.0.8"},
		},
	)
	if ips, ok := s.Service("web"); !ok || !slices.Equal(ipStrings(ips), []string{"10.42.0.3", "10.42.0.4", "10.42.0.9"}) {
		t.Errorf("Service(web) = %v, %v", ips, ok)
	}
	if ips, ok := s.Tasks("web"); !ok || len(ips) != 3 {
		t.Errorf("Tasks(web) = %v, %v", ips, ok)
	}
	if ips, ok := s.Task("web", "1"); !ok || !slices.Equal(ipStrings(ips), []string{"10.42.0.3", "10.42.0.4"}) {
		t.Errorf("Task(web, 1) = %v, %v", ips, ok)
	}
	if _, ok := s.Task("web", "3"); ok {
		t.Error("Task(web, 3): a task without a usable address answers")
	}
	if _, ok := s.Service("gone"); ok {
		t.Error("tasks of an unknown service made it a service")
	}
	// A stable address answers for the service; tasks.SERVICE stays the tasks.
	if ips, _ := s.Service("vip"); !slices.Equal(ipStrings(ips), []string{"10.43.0.5"}) {
		t.Errorf("Service(vip) = %v, want its stable address", ips)
	}
	if ips, _ := s.Tasks("vip"); !slices.Equal(ipStrings(ips), []string{"10.42.0.8"}) {
		t.Errorf("Tasks(vip) = %v", ips)
	}
	targets, ok := s.SRV("web", "http", "tcp")
	if !ok || len(targets) != 3 {
		t.Fatalf("SRV(web, http, tcp) = %v, %v", targets, ok)
	}
	for _, tg := range targets {
		if tg.Port != 80 {
			t.Errorf("target %+v: port %d, want 80", tg, tg.Port)
		}
	}
	if targets[0].Label != "1" || targets[2].Label != "2" {
		t.Errorf("targets %+v, want sorted by label", targets)
	}
	if _, ok := s.SRV("web", "q", "udp"); !ok {
		t.Error("SRV(web, q, udp): protocol not folded to lower case")
	}
	if _, ok := s.SRV("web", "http", "udp"); ok {
		t.Error("SRV(web, http, udp): the port is tcp")
	}
	if _, ok := s.SRV("web", "", "tcp"); ok {
		t.Error("an unnamed port has an SRV record")
	}
}

func TestSnapshotEmpty(t *testing.T) {
	s := NewSnapshot(nil, nil)
	if _, ok := s.Service("web"); ok {
		t.Error("empty snapshot knows web")
	}
	if _, ok := s.SRV("web", "http", "tcp"); ok {
		t.Error("empty snapshot has SRV records")
	}
}

func TestLowerASCII(t *testing.T) {
	for in, want := range map[string]string{"": "", "web": "web", "WeB.SHOAL": "web.shoal", "\u212A": "\u212A", "É": "É"} {
		if got := lowerASCII(in); got != want {
			t.Errorf("lowerASCII(%q) = %q, want %q", in, got, want)
		}
	}
}
