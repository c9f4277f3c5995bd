package runtime

import (
	"strconv"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// PortEnv is the environment a task gets from its service's ports, in
// spec order: PORT, the first port's target (the port the task should
// listen on), then SHOAL_PORT_<NAME>=target for each named port (the name
// upper-cased, '-' written '_'). Runtimes let a PORT from the spec's env
// win, and set the SHOAL_PORT_* variables over it.
func PortEnv(ports []api.PortSpec) []string {
	if len(ports) == 0 {
		return nil
	}
	env := []string{"PORT=" + strconv.Itoa(int(ports[0].Target()))}
	for _, p := range ports {
		if p.Name != "" {
			env = append(env, "SHOAL_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_"))+"="+strconv.Itoa(int(p.Target())))
		}
	}
	return env
}
