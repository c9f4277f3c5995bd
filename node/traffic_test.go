package node

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/node/endpoints"
)

// TestTrafficApply: the datapaths are driven only when the endpoints
// change, again after a failure, and never before a first service; a
// backend count change is logged per service.
func TestTrafficApply(t *testing.T) {
	var logs bytes.Buffer
	var vipCalls, ingressCalls int
	var vipErr error
	var gauge map[string]int
	tr := &traffic{
		log:      slog.New(slog.NewTextHandler(&logs, nil)),
		vip:      func([]endpoints.Service) error { vipCalls++; return vipErr },
		ingress:  func([]endpoints.Service) error { ingressCalls++; return nil },
		backends: func(c map[string]int) { gauge = c },
	}
	if tr.apply(nil) || vipCalls != 0 || ingressCalls != 1 {
		t.Fatalf("no services: vip %d ingress %d (want no table made)", vipCalls, ingressCalls)
	}
	tr.apply(nil)
	if ingressCalls != 1 {
		t.Errorf("unchanged: ingress called again")
	}
	web := func(n int) []endpoints.Service {
		p := endpoints.Port{Protocol: "tcp", Target: 80}
		var live []string
		for i := 0; i < n; i++ {
			id := string(rune('a' + i))
			live = append(live, id)
			p.Backends = append(p.Backends, endpoints.Backend{TaskID: id, Addr: netip.MustParseAddrPort("127.0.0.1:80")})
		}
		return []endpoints.Service{{Name: "web", VIP: netip.MustParseAddr("10.43.0.2"), Ports: []endpoints.Port{p}, Live: live}}
	}
	tr.apply(web(2))
	tr.apply(web(2))
	if vipCalls != 1 || gauge["web"] != 2 || !strings.Contains(logs.String(), "service=web backends=2") {
		t.Fatalf("vip calls %d, gauge %v, log:\n%s", vipCalls, gauge, logs.String())
	}
	vipErr = errors.New("no nftables")
	if !tr.apply(web(1)) {
		t.Error("a failed table update is not reported")
	}
	vipErr = nil
	if tr.apply(web(1)) || vipCalls != 3 {
		t.Errorf("retry: vip calls %d, want 3", vipCalls)
	}
	tr.apply(nil)
	if vipCalls != 4 || !strings.Contains(logs.String(), "service gone") {
		t.Errorf("after the last service: vip calls %d (the table must be emptied), log:\n%s", vipCalls, logs.String())
	}
}

// TestUserspaceIngress: the proxy is left the PROXY protocol and UDP
// ingress ports; TCP ingress ports are the kernel's, except behind a
// loopback bind address with a backend off loopback (a container), and
// on an IPv6 bind address; the input is not changed.
func TestUserspaceIngress(t *testing.T) {
	loopback := []endpoints.Backend{{Addr: netip.MustParseAddrPort("127.0.0.2:9000")}}
	container := []endpoints.Backend{{Addr: netip.MustParseAddrPort("10.42.1.2:80")}}
	in := []endpoints.Service{{Name: "s", Ports: []endpoints.Port{
		{Protocol: "tcp", Published: 80, Mode: "ingress", Backends: loopback},
		{Protocol: "tcp", Published: 81, Mode: "ingress", ProxyProtocol: true},
		{Protocol: "udp", Published: 82, Mode: "ingress"},
		{Protocol: "tcp", Target: 83},
		{Protocol: "tcp", Published: 84, Mode: "ingress", Backends: container},
	}}}
	published := func(svcs []endpoints.Service) []uint16 {
		var got []uint16
		for _, p := range svcs[0].Ports {
			got = append(got, p.Published)
		}
		return got
	}
	if got := published(userspaceIngress(in, netip.MustParseAddr("192.0.2.10"))); !slices.Equal(got, []uint16{81, 82, 0}) {
		t.Errorf("on 192.0.2.10: userspace ports %v, want [81 82 0]", got)
	}
	if got := published(userspaceIngress(in, netip.MustParseAddr("127.0.0.1"))); !slices.Equal(got, []uint16{81, 82, 0, 84}) {
		t.Errorf("on 127.0.0.1: userspace ports %v, want [81 82 0 84] (the container's port on the proxy)", got)
	}
	if got := published(userspaceIngress(in, netip.MustParseAddr("::1"))); len(got) != 5 {
		t.Errorf("on ::1: userspace ports %v, want all five", got)
	}
	if len(in[0].Ports) != 5 {
		t.Errorf("input changed: %+v", in[0].Ports)
	}
}
