package process

import (
	"slices"
	"testing"

	"github.com/shoal-project/shoal/api"
	rtapi "github.com/shoal-project/shoal/runtime"
)

// A process task gets PORT and SHOAL_PORT_<NAME>; a PORT of its own env wins.
func TestBuildEnvPorts(t *testing.T) {
	spec := rtapi.TaskSpec{TaskID: "t1", ServiceName: "web", Spec: api.ServiceSpec{
		Ports: []api.PortSpec{{TargetPort: 8080, Mode: api.PublishIngress}, {Name: "metrics", TargetPort: 9100}}}}
	env, err := buildEnv(spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []string{"PORT=8080", "SHOAL_PORT_METRICS=9100"} {
		if !slices.Contains(env, kv) {
			t.Errorf("env %v lacks %s", env, kv)
		}
	}
	spec.Spec.Env = []string{"PORT=1234", "SHOAL_PORT_METRICS=1"}
	env, _ = buildEnv(spec)
	if !slices.Contains(env, "PORT=1234") || slices.Contains(env, "PORT=8080") || !slices.Contains(env, "SHOAL_PORT_METRICS=9100") {
		t.Errorf("env %v: want the spec's PORT kept and SHOAL_PORT_METRICS set over it", env)
	}
}
