package integration

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestServicePublishedPorts (issue 12, control plane): through the real
// CLI, a service publishing 8080:80 and an automatic port for 9000 gets a
// VIP of the default service CIDR and both ports; a second service asking
// for 8080 is refused in one line naming the port and the holder;
// `service ls` shows the ports; tasks get PORT and SHOAL_PORT_<NAME>; a
// removed service's VIP and ports go to the next one.
func TestServicePublishedPorts(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]
	if out, err := a.CLI("cluster", "status"); err != nil || !strings.Contains(out, api.DefaultServiceCIDR) {
		t.Fatalf("cluster status lacks the service CIDR: %v\n%s", err, out)
	}
	if out, err := a.CLI("service", "create", "web", "--detach", "--runtime", "process",
		"--publish", "published=8080,target=80,name=http", "--publish", "9000",
		"--", "sh", "-c", `echo "port=$PORT http=$SHOAL_PORT_HTTP"; exec sleep 1000`); err != nil {
		t.Fatalf("create web: %v\n%s", err, out)
	}
	web := inspectService(t, a, "web")
	vip, err := netip.ParseAddr(web.Endpoint.VIP)
	if err != nil || !netip.MustParsePrefix(api.DefaultServiceCIDR).Contains(vip) {
		t.Fatalf("web's VIP %q is not in %s", web.Endpoint.VIP, api.DefaultServiceCIDR)
	}
	ports := web.Endpoint.Ports
	if len(ports) != 2 ||
		ports[0] != (api.EndpointPort{Name: "http", Protocol: "tcp", Target: 80, Published: 8080, Mode: api.PublishIngress}) ||
		ports[1].Target != 9000 || ports[1].Mode != api.PublishIngress || ports[1].Published < api.PublishedPortMin || ports[1].Published > api.PublishedPortMax {
		t.Fatalf("web's endpoint ports %+v: want 8080->80 and an automatic port for 9000", ports)
	}
	auto := ports[1].Published

	out, err := a.CLI("service", "create", "api", "--detach", "--runtime", "process", "--publish", "8080:81", "--", "sleep", "1000")
	want := "service api: published port 8080/tcp is taken by service web"
	if err == nil || !strings.Contains(out, want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("second service on 8080: %v\n%q, want one line with %q", err, out, want)
	}

	out, err = a.CLI("service", "ls")
	if err != nil || !strings.Contains(out, fmt.Sprintf("*:8080->80/tcp,*:%d->9000/tcp", auto)) || !strings.Contains(out, "PORTS") {
		t.Fatalf("service ls: %v\n%s", err, out)
	}

	waitRunning(t, a, "web", 1, 30*time.Second)
	harness.WaitFor(t, 20*time.Second, "web's port variables in its log", func() (bool, string) {
		logs, _ := a.CLI("service", "logs", "web")
		return strings.Contains(logs, "port=80 http=80"), logs
	})

	// An update keeps the VIP and the automatic port.
	if out, err := a.CLI("service", "update", "web", "--detach", "--replicas", "2"); err != nil {
		t.Fatalf("update web: %v\n%s", err, out)
	}
	if got := inspectService(t, a, "web"); got.Endpoint.VIP != web.Endpoint.VIP || got.Endpoint.Ports[1].Published != auto {
		t.Fatalf("after an update: %+v, want VIP %s and port %d kept", got.Endpoint, web.Endpoint.VIP, auto)
	}
	// Removed, its VIP and ports are free for the next service.
	if out, err := a.CLI("service", "rm", "web"); err != nil {
		t.Fatalf("rm web: %v\n%s", err, out)
	}
	if out, err := a.CLI("service", "create", "api", "--detach", "--runtime", "process", "--publish", "8080:81", "--", "sleep", "1000"); err != nil {
		t.Fatalf("create api after web's removal: %v\n%s", err, out)
	}
	if got := inspectService(t, a, "api"); got.Endpoint.VIP != web.Endpoint.VIP || got.Endpoint.Ports[0].Published != 8080 {
		t.Fatalf("api: %+v, want web's freed VIP %s and 8080", got.Endpoint, web.Endpoint.VIP)
	}
}

// inspectService reads `service inspect NAME` (JSON).
func inspectService(t *testing.T, a *agentProc, name string) api.ServiceInfo {
	t.Helper()
	out, err := a.CLI("service", "inspect", name)
	if err != nil {
		t.Fatalf("inspect %s: %v\n%s", name, err, out)
	}
	var info api.ServiceInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("inspect %s: %v\n%s", name, err, out)
	}
	return info
}
