package cni

import (
	"reflect"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// Only host ports reach portmap: ingress ports are the datapath's.
func TestHostPortsOnlyAreMapped(t *testing.T) {
	ports := []api.PortSpec{
		{Port: 8080, TargetPort: 80, Mode: api.PublishIngress},
		{TargetPort: 9000, Mode: api.PublishIngress},
		{Port: 7000, TargetPort: 70, Mode: api.PublishHost},
		{Port: 6000, Protocol: "udp"}, // a record from before publish modes: host
		{Name: "metrics", TargetPort: 9100},
	}
	want := []api.PortSpec{ports[2], ports[3]}
	if got := hostPorts(ports); !reflect.DeepEqual(got, want) {
		t.Fatalf("hostPorts = %+v, want %+v", got, want)
	}
	rt := (&Manager{}).runtimeConf("t1", "/run/netns/x", ports)
	pm, _ := rt.CapabilityArgs["portMappings"].([]map[string]any)
	if len(pm) != 2 || pm[0]["hostPort"] != 7000 || pm[0]["containerPort"] != 70 || pm[1]["hostPort"] != 6000 || pm[1]["protocol"] != "udp" {
		t.Fatalf("port mappings %v", pm)
	}
	if rt := (&Manager{}).runtimeConf("t1", "/run/netns/x", ports[:2]); rt.CapabilityArgs != nil {
		t.Fatalf("ingress ports mapped: %v", rt.CapabilityArgs)
	}
}
