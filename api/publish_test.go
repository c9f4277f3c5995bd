package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestPublishModeOfPorts(t *testing.T) {
	for _, c := range []struct {
		p    PortSpec
		want string
	}{
		{PortSpec{Port: 8080}, PublishHost}, // a record from before publish modes
		{PortSpec{Port: 8080, Mode: PublishHost}, PublishHost},
		{PortSpec{Port: 8080, Mode: PublishIngress}, PublishIngress},
		{PortSpec{TargetPort: 80, Mode: PublishIngress}, PublishIngress}, // automatic
		{PortSpec{Name: "http", TargetPort: 80}, ""},                     // named, unpublished
	} {
		if got := c.p.PublishMode(); got != c.want {
			t.Errorf("%+v: mode %q, want %q", c.p, got, c.want)
		}
		if c.p.HostPublished() != (c.want == PublishHost) {
			t.Errorf("%+v: HostPublished %v", c.p, c.p.HostPublished())
		}
	}
}

func TestDefaultPublishModesKeepsLegacyHostPorts(t *testing.T) {
	old := ServiceSpec{Runtime: RuntimeContainerd, Ports: []PortSpec{{Port: 8080, Protocol: "tcp"}}}
	spec := ServiceSpec{Runtime: RuntimeContainerd, Ports: []PortSpec{{Port: 8080, Protocol: "tcp"}, {Port: 9090}, {Name: "x", TargetPort: 1}, {Port: 7070, Mode: PublishHost}}}
	DefaultPublishModes(&spec, &old)
	want := []string{"", PublishIngress, "", PublishHost}
	for i, p := range spec.Ports {
		if p.Mode != want[i] {
			t.Errorf("port %d: mode %q, want %q", i, p.Mode, want[i])
		}
	}
	fresh := ServiceSpec{Runtime: RuntimeContainerd, Ports: []PortSpec{{Port: 8080}}}
	DefaultPublishModes(&fresh, nil)
	if fresh.Ports[0].Mode != PublishIngress {
		t.Errorf("a new published port is %q, want ingress", fresh.Ports[0].Mode)
	}
	// A process task listens on the published port itself, on its node's
	// address: that stays host mode, since the ingress proxy would take it.
	proc := ServiceSpec{Runtime: RuntimeProcess, Ports: []PortSpec{{Port: 8080}, {Port: 9090, TargetPort: 90}}}
	DefaultPublishModes(&proc, nil)
	if proc.Ports[0].Mode != PublishHost || proc.Ports[1].Mode != PublishIngress {
		t.Errorf("process ports' modes %q, %q, want host (same port) and ingress", proc.Ports[0].Mode, proc.Ports[1].Mode)
	}
}

func TestValidatePublishModes(t *testing.T) {
	base := ServiceSpec{Name: "web", Runtime: RuntimeProcess, Command: []string{"x"}, Mode: ModeReplicated, Replicas: 1}
	for _, c := range []struct {
		ports []PortSpec
		want  string // "" = valid
	}{
		{[]PortSpec{{TargetPort: 80, Mode: PublishIngress}}, ""},
		{[]PortSpec{{Port: 8080, TargetPort: 80, Mode: PublishIngress}}, ""}, // the datapath forwards
		{[]PortSpec{{Port: 8080, TargetPort: 80, Mode: PublishIngress, ProxyProtocol: true}}, ""},
		{[]PortSpec{{Port: 8080, TargetPort: 80, Mode: PublishHost}}, "leave target_port out"},
		{[]PortSpec{{TargetPort: 80, Mode: PublishHost}}, "mode host needs a published port"},
		{[]PortSpec{{Port: 80, Mode: "nodeport"}}, `spec.ports[0].mode: "nodeport"`},
		{[]PortSpec{{Port: 80, Mode: PublishHost, ProxyProtocol: true}}, "proxy_protocol needs an ingress tcp port"},
		{[]PortSpec{{Port: 5353, TargetPort: 53, Protocol: "udp", Mode: PublishIngress, ProxyProtocol: true}}, "proxy_protocol needs an ingress tcp port"},
		// Process tasks listen on the node's own address: an ingress port
		// equal to their port would be taken by the proxy on every node.
		{[]PortSpec{{Port: 8080, Mode: PublishIngress}}, "spec.ports[0]: ingress port 8080 is also the port the tasks listen on"},
		{[]PortSpec{{Port: 8080, TargetPort: 8080, Mode: PublishIngress}}, "target=8080 alone gets an automatic one"},
	} {
		s := base
		s.Ports = c.ports
		s.Normalize()
		err := s.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.ports, err, c.want)
		}
	}
}

func TestPublishModeNeedsProtocol5(t *testing.T) {
	spec := ServiceSpec{Name: "web", Runtime: RuntimeContainerd, Image: "hello", Mode: ModeReplicated, Replicas: 1, Ports: []PortSpec{{Port: 8080}}}
	raw, _ := json.Marshal(CreateServicePayload{Spec: spec})
	if got := ProtocolOf(Command{Type: CmdCreateService, Payload: raw}); got != 1 {
		t.Errorf("a plain published port needs protocol %d, want 1 (the service's \"mode\" key is not a port's)", got)
	}
	spec.Ports[0].Mode = PublishIngress
	raw, _ = json.Marshal(CreateServicePayload{Spec: spec})
	if got := ProtocolOf(Command{Type: CmdCreateService, Payload: raw}); got != 5 {
		t.Errorf("an ingress port needs protocol %d, want 5", got)
	}
	raw, _ = json.Marshal(BootstrapPayload{Cluster: Cluster{ServiceCIDR: DefaultServiceCIDR}})
	if got := ProtocolOf(Command{Type: CmdBootstrap, Payload: raw}); got != 5 {
		t.Errorf("a service CIDR needs protocol %d, want 5", got)
	}
}

func TestCheckNetworks(t *testing.T) {
	for _, c := range []struct{ cluster, svc, want string }{
		{DefaultClusterCIDR, DefaultServiceCIDR, ""},
		{DefaultClusterCIDR, "10.42.128.0/20", "overlaps the cluster CIDR"},
		{"10.0.0.0/8", DefaultServiceCIDR, "overlaps the cluster CIDR"},
		{DefaultClusterCIDR, "10.43.0.0/25", "not within /8 to /24"},
		{DefaultClusterCIDR, "10.43.0.1/16", "host bits are set"},
		{DefaultClusterCIDR, "fd00::/64", "must be IPv4"},
		{DefaultClusterCIDR, "vip", "not an address/prefix"},
		{"", "10.43.0.0/24", ""},
	} {
		err := CheckNetworks(c.cluster, c.svc)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("CheckNetworks(%q, %q) = %v, want %q", c.cluster, c.svc, err, c.want)
		}
	}
}

// Manifests: a bare number or "N" string keeps its old meaning (published
// and listened on, mode left to the API); "P:T", the long form and the
// table's mode and proxy_protocol name their mode.
func TestManifestPortModes(t *testing.T) {
	doc := `[[service]]
name = "web"
image = "hello"
ports = [8080, "53/udp", "9090:90", "mode=ingress,target=7000", { port = 443, target_port = 8443, mode = "ingress", proxy_protocol = true }, { port = 2222, target_port = 22, mode = "host" }]
`
	specs, err := ParseManifest("m.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := []PortSpec{
		{Port: 8080, Protocol: "tcp"},
		{Port: 53, Protocol: "udp"},
		{Port: 9090, TargetPort: 90, Protocol: "tcp", Mode: PublishIngress},
		{TargetPort: 7000, Protocol: "tcp", Mode: PublishIngress},
		{Port: 443, TargetPort: 8443, Protocol: "tcp", Mode: PublishIngress, ProxyProtocol: true},
		{Port: 2222, TargetPort: 22, Protocol: "tcp", Mode: PublishHost},
	}
	if got := specs[0].Ports; !reflect.DeepEqual(got, want) {
		t.Fatalf("ports:\n got %+v\nwant %+v", got, want)
	}
	bad := `[[service]]
name = "web"
image = "hello"
ports = [{ port = 443, proxy_protocol = "yes" }]
`
	if _, err := ParseManifest("m.toml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "proxy_protocol") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("a bad proxy_protocol: %v", err)
	}
}
