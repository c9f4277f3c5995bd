package runtime

import (
	"reflect"
	"testing"

	"github.com/shoal-project/shoal/api"
)

func TestPortEnv(t *testing.T) {
	ports := []api.PortSpec{
		{Port: 8080, TargetPort: 80, Mode: api.PublishIngress},
		{Name: "admin-api", TargetPort: 9000},
		{Name: "dns", Port: 53, Protocol: "udp"},
	}
	want := []string{"PORT=80", "SHOAL_PORT_ADMIN_API=9000", "SHOAL_PORT_DNS=53"}
	if got := PortEnv(ports); !reflect.DeepEqual(got, want) {
		t.Errorf("PortEnv = %v, want %v", got, want)
	}
	if got := PortEnv(nil); got != nil {
		t.Errorf("no ports: %v", got)
	}
}
