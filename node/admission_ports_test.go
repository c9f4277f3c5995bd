package node

import (
	"encoding/json"
	"testing"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// TestAdmitPublishedPorts: the leader refuses a published port another
// service holds, in the FSM's own words (one line naming the port and the
// service), before the write enters the log; a service's own ports pass.
func TestAdmitPublishedPorts(t *testing.T) {
	h := &fakeReconcileHost{t: t, fsm: state.NewFSM(state.NewStore())}
	c := *joinTestCluster()
	c.ServiceCIDR = api.DefaultServiceCIDR
	h.apply(api.CmdBootstrap, api.BootstrapPayload{Cluster: c, Node: api.Node{ID: "n1", Name: "n1"}})
	spec := func(name string, ports ...api.PortSpec) api.ServiceSpec {
		return api.ServiceSpec{Name: name, Runtime: "containerd", Image: "hello", Mode: api.ModeReplicated, Replicas: 1, Ports: ports}
	}
	web := api.PortSpec{Port: 8080, TargetPort: 80, Mode: api.PublishIngress}
	h.apply(api.CmdCreateService, api.CreateServicePayload{ServiceID: "s1", Spec: spec("web", web)})
	cmd := func(typ api.CommandType, p any) api.Command {
		raw, _ := json.Marshal(p)
		return api.Command{Type: typ, Payload: raw}
	}
	v := h.fsm.Store().View()
	err := admitServiceWrite(LimitsConfig{}, v, cmd(api.CmdCreateService, api.CreateServicePayload{Spec: spec("api", web)}))
	if err == nil || err.Error() != "service api: published port 8080/tcp is taken by service web" || api.CodeOf(err) != api.CodeConflict {
		t.Fatalf("taken port: %v", err)
	}
	if err := admitServiceWrite(LimitsConfig{}, v, cmd(api.CmdUpdateService, api.UpdateServicePayload{Name: "web", Spec: spec("web", web, api.PortSpec{TargetPort: 90, Mode: api.PublishIngress})})); err != nil {
		t.Fatalf("web keeping its own port: %v", err)
	}
}

// TestUpdatedSpecPublishModes: through the API, a new published port
// without a mode becomes ingress in a cluster with a service CIDR, and a
// port an old record published without one stays a host port.
func TestUpdatedSpecPublishModes(t *testing.T) {
	svc := &api.Service{Spec: api.ServiceSpec{Name: "web", Runtime: "containerd", Image: "hello", Mode: api.ModeReplicated, Replicas: 1,
		Ports: []api.PortSpec{{Port: 8080, Protocol: "tcp"}}}}
	next := svc.Spec
	next.Ports = []api.PortSpec{{Port: 8080}, {Port: 9090}}
	got, err := updatedSpec(svc, api.ServiceUpdateRequest{Spec: &next}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ports[0].Mode != "" || got.Ports[1].Mode != api.PublishIngress {
		t.Fatalf("ports %+v: want 8080 left host (no mode), 9090 ingress", got.Ports)
	}
	got, _ = updatedSpec(svc, api.ServiceUpdateRequest{Spec: &next}, false)
	if got.Ports[1].Mode != "" {
		t.Fatalf("without a service CIDR: %+v", got.Ports)
	}
}
