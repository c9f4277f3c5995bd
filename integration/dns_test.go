package integration

import (
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// taskEnv returns the value of key in the environment of process pid.
func taskEnv(t *testing.T, pid int, key string) string {
	t.Helper()
	env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(env), "\x00") {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// queryA asks server for name's A records with a real resolver client
// and returns the addresses, sorted, and the answer's rcode.
func queryA(t *testing.T, server, name string) ([]string, int) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, server)
	if err != nil {
		t.Fatalf("query %s at %s: %v", name, server, err)
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	slices.Sort(ips)
	return ips, r.Rcode
}

// runningIPs are the IPs of a service's running tasks, sorted.
func runningIPs(t *testing.T, a *agentProc, service string) []string {
	ts, err := tasks(a, service)
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, x := range ts {
		if x.State == api.TaskRunning && x.Status.IP != "" {
			ips = append(ips, x.Status.IP)
		}
	}
	slices.Sort(ips)
	return ips
}

// TestTaskDNS: each node serves DNS on its bridge gateway. A real resolver
// client gets the service's virtual IP for SERVICE and SERVICE.shoal, the
// running tasks' IPs for tasks.SERVICE, NXDOMAIN for an unknown name; a scale-up shows within a
// second of the task running; a named port has SRV records; a
// container's /etc/resolv.conf names the node's server, and a container
// fetches from another by service name.
func TestTaskDNS(t *testing.T) {
	c := containerCluster(t, 1)
	a := c.agents[0]
	if out, err := a.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v %s", err, out)
	}
	if out, err := a.CLI("service", "create", "web", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=80", "--replicas", "2",
		"--publish", "name=http,target=80"); err != nil {
		t.Fatalf("create web: %v %s", err, out)
	}
	waitRunning(t, a, "web", 2, 60*time.Second)
	var n api.NodeInfo
	if err := a.get("/v1/nodes/n1", &n); err != nil || n.Subnet == "" {
		t.Fatalf("node subnet: %v %q", err, n.Subnet)
	}
	_, subnet, _ := net.ParseCIDR(n.Subnet)
	gw := subnet.IP.To4()
	gw[3]++
	server := net.JoinHostPort(gw.String(), "53")

	var svc api.ServiceInfo
	if err := a.get("/v1/services/web", &svc); err != nil || svc.Endpoint.VIP == "" {
		t.Fatalf("web's VIP: %v %+v", err, svc.Endpoint)
	}
	tasks := runningIPs(t, a, "web")
	for _, name := range []string{"web", "web.shoal", "tasks.web", "TASKS.Web.shoal"} {
		want := tasks
		if !strings.HasPrefix(strings.ToLower(name), "tasks.") {
			want = []string{svc.Endpoint.VIP} // the service's stable address
		}
		var got []string
		harness.WaitFor(t, 10*time.Second, "A records of "+name, func() (bool, string) {
			got, _ = queryA(t, server, name)
			return slices.Equal(got, want), fmt.Sprintf("%v, want %v", got, want)
		})
	}
	if _, rcode := queryA(t, server, "nosuch.shoal"); rcode != dns.RcodeNameError {
		t.Fatalf("nosuch.shoal: rcode %s, want NXDOMAIN", dns.RcodeToString[rcode])
	}

	// A scale-up is in the answers within a second of the task running.
	if out, err := a.CLI("service", "scale", "web=3", "--detach"); err != nil {
		t.Fatalf("scale: %v %s", err, out)
	}
	var running time.Time
	harness.WaitFor(t, 60*time.Second, "the third task running", func() (bool, string) {
		ips := runningIPs(t, a, "web")
		running = time.Now()
		return len(ips) == 3, fmt.Sprint(ips)
	})
	harness.WaitFor(t, time.Second, "the third IP in DNS within 1s", func() (bool, string) {
		got, _ := queryA(t, server, "tasks.web")
		return len(got) == 3, fmt.Sprint(got)
	})
	t.Logf("scale-up visible in DNS %s after the task was seen running", time.Since(running).Round(time.Millisecond))

	// The named port: SRV records with the tasks' addresses.
	m := new(dns.Msg)
	m.SetQuestion("_http._tcp.web.shoal.", dns.TypeSRV)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, server)
	if err != nil || len(r.Answer) != 3 || len(r.Extra) != 3 {
		t.Fatalf("SRV _http._tcp.web.shoal: %v %v", err, r)
	}
	for _, rr := range r.Answer {
		if srv, ok := rr.(*dns.SRV); !ok || srv.Port != 80 || !strings.HasSuffix(srv.Target, ".web.shoal.") {
			t.Fatalf("SRV answer %v", rr)
		}
	}

	// A container resolves the service by name through its resolv.conf.
	if out, err := a.CLI("service", "create", "client", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=0",
		"--env", "HELLO_FETCH=http://tasks.web/,http://web.shoal/"); err != nil {
		t.Fatalf("create client: %v %s", err, out)
	}
	ts := waitRunning(t, a, "client", 1, 60*time.Second)
	conf, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/resolv.conf", ts[0].Status.PID))
	if err != nil || !strings.Contains(string(conf), "nameserver "+gw.String()) {
		t.Fatalf("the container's resolv.conf: %v %q", err, conf)
	}
	harness.WaitFor(t, 20*time.Second, "the client to fetch from web by name", func() (bool, string) {
		logs, _ := a.CLI("service", "logs", "client")
		return strings.Count(logs, ": 200 hello from task") == 2, logs
	})
}

// TestProcessTasksGetDNS: on a node with host-network tasks only, the
// node serves DNS on a loopback address of its own, and a process task
// finds it in $SHOAL_DNS; it answers the service's name.
func TestProcessTasksGetDNS(t *testing.T) {
	c := startCluster(t, 1, "--runtime", "process")
	a := c.agents[0]
	createService(t, a, "worker", "--replicas", "1")
	ts := waitRunning(t, a, "worker", 1, 30*time.Second)
	server := taskEnv(t, ts[0].Status.PID, "SHOAL_DNS")
	if !strings.HasPrefix(server, "127.") || !strings.HasSuffix(server, ":53") {
		t.Fatalf("SHOAL_DNS = %q, want a loopback address on port 53", server)
	}
	harness.WaitFor(t, 5*time.Second, "worker.shoal to be known at "+server, func() (bool, string) {
		_, rcode := queryA(t, server, "worker.shoal")
		return rcode == dns.RcodeSuccess, dns.RcodeToString[rcode]
	})
	if _, rcode := queryA(t, server, "nosuch.shoal"); rcode != dns.RcodeNameError {
		t.Fatalf("nosuch.shoal at %s: %s, want NXDOMAIN", server, dns.RcodeToString[rcode])
	}
}
