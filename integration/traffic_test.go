package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
	"github.com/shoal-project/shoal/node/vip"
)

// Service traffic (issue 12): the VIP table and the ingress proxy,
// against real agents. The loopback tests run three process-runtime
// agents bound to 127.0.0.1, .2 and .3; their tasks run the hello binary
// on their node's address (HOST=$SHOAL_TASK_IP).

var helloBin struct {
	once sync.Once
	path string
	err  error
}

// helloBinary builds images/hello once per test process.
func helloBinary(t testing.TB) string {
	t.Helper()
	helloBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "shoal-it-hello-")
		if err != nil {
			helloBin.err = err
			return
		}
		helloBin.path = filepath.Join(dir, "hello")
		cmd := exec.Command("go", "build", "-o", helloBin.path, "./images/hello")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			helloBin.err = fmt.Errorf("build hello: %v\n%s", err, out)
		}
	})
	if helloBin.err != nil {
		t.Fatal(helloBin.err)
	}
	return helloBin.path
}

// removeHelloBinary removes what helloBinary built (TestMain, at the end).
func removeHelloBinary() {
	if helloBin.path != "" {
		os.RemoveAll(filepath.Dir(helloBin.path))
	}
}

// loopbackCluster starts n process-runtime agents on 127.0.0.1 … n.
func loopbackCluster(t testing.TB, n int) *cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("service traffic needs root (nftables)")
	}
	return startClusterWith(t, n, func(name string) []string {
		return []string{"--runtime", "process", "--bind", "127.0.0." + strings.TrimPrefix(name, "n")}
	})
}

// helloService creates a process service of the hello binary listening
// on its node's address and PORT=target, with args (publish, health...).
func helloService(t testing.TB, a *agentProc, name string, target int, env []string, args ...string) {
	t.Helper()
	full := []string{"service", "create", name, "--detach", "--runtime", "process", "--env", fmt.Sprintf("PORT=%d", target)}
	for _, e := range env {
		full = append(full, "--env", e)
	}
	full = append(full, args...)
	full = append(full, "--", "sh", "-c", "HOST=$SHOAL_TASK_IP exec "+helloBinary(t))
	if out, err := a.CLI(full...); err != nil {
		t.Fatalf("service create %s: %v\n%s", name, err, out)
	}
}

// endpointOf is the service's allocated endpoint.
func endpointOf(t testing.TB, a *agentProc, name string) api.Endpoint {
	t.Helper()
	var info api.ServiceInfo
	harness.WaitFor(t, 10*time.Second, name+"'s endpoint", func() (bool, string) {
		if err := a.get("/v1/services/"+name, &info); err != nil {
			return false, err.Error()
		}
		return info.Endpoint.VIP != "" && len(info.Endpoint.Ports) > 0, fmt.Sprintf("%+v", info.Endpoint)
	})
	return info.Endpoint
}

// whoami GETs /whoami at addr with client and returns "TASK CLIENT".
func whoami(client *http.Client, addr string) (task, from string, err error) {
	resp, err := client.Get("http://" + addr + "/whoami")
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	task, from, _ = strings.Cut(strings.TrimSpace(string(b)), " ")
	return task, from, nil
}

// freshClient opens a new connection for every request, so that every
// request is a new choice of backend.
var freshClient = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func pickPort(t testing.TB) int {
	t.Helper()
	p, err := harness.PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServiceTrafficLoopback: on three loopback agents, a service's
// ingress port (the kernel's DNAT) answers on every node and spreads
// over its three tasks; its VIP answers the host and spreads too, and
// the task sees the host's own address; a UDP ingress port does
// request/response (the userspace proxy); an ingress port with
// proxy_protocol (the userspace proxy) hands the client's address to
// the task. A killed node's task leaves the rotation, and so does a task
// whose health check fails (within a second of it turning unhealthy;
// its replacement, never healthy, never enters). The agent exports its
// backends and the userspace proxy's connections; a restarted agent serves again;
// agents stopped leave no table behind.
func TestServiceTrafficLoopback(t *testing.T) {
	c := loopbackCluster(t, 3)
	n1 := c.agents[0]
	sick := t.TempDir()
	check := filepath.Join(sick, "check")
	// The check runs with its task's environment: a file named after a
	// node ($SHOAL_NODE) makes that node's task sick.
	if err := os.WriteFile(check, []byte("#!/bin/sh\ntest ! -e "+sick+"/$SHOAL_NODE\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	web, webPub := pickPort(t), pickPort(t)
	helloService(t, n1, "web", web, nil, "--replicas", "3", "--max-per-node", "1",
		"--publish", fmt.Sprintf("published=%d,target=%d,mode=ingress", webPub, web),
		"--health-cmd", check, "--health-interval", "200ms", "--health-retries", "1",
		"--restart-delay", "500ms")
	udp, udpPub := pickPort(t), pickPort(t)
	helloService(t, n1, "echo", udp, []string{"HELLO_UDP=1"}, "--replicas", "1",
		"--publish", fmt.Sprintf("published=%d,target=%d,protocol=udp,mode=ingress", udpPub, udp))
	pp, ppPub := pickPort(t), pickPort(t)
	helloService(t, n1, "pp", pp, []string{"HELLO_PROXY_PROTOCOL=1"}, "--replicas", "1",
		"--publish", fmt.Sprintf("published=%d,target=%d,mode=ingress,proxy_protocol=true", ppPub, pp))

	harness.WaitFor(t, 60*time.Second, "3 healthy web tasks", func() (bool, string) {
		ts, err := tasks(n1, "web")
		if err != nil {
			return false, err.Error()
		}
		ok, detail := 0, ""
		for _, x := range ts {
			detail += fmt.Sprintf("%s/%s %s %q; ", x.NodeName, x.ID[:8], x.State, x.Health)
			if x.State == api.TaskRunning && x.Health == api.HealthHealthy {
				ok++
			}
		}
		return ok == 3, detail
	})
	waitRunning(t, n1, "echo", 1, 30*time.Second)
	waitRunning(t, n1, "pp", 1, 30*time.Second)
	webTasks := map[string]string{} // task ID → node name
	ts, _ := tasks(n1, "web")
	for _, x := range ts {
		if x.State == api.TaskRunning {
			webTasks[x.ID] = x.NodeName
		}
	}
	ep := endpointOf(t, n1, "web")
	vipAddr := net.JoinHostPort(ep.VIP, fmt.Sprint(web))

	// Ingress: every node's port reaches every task.
	for i := 1; i <= 3; i++ {
		addr := fmt.Sprintf("127.0.0.%d:%d", i, webPub)
		seen := map[string]int{}
		harness.WaitFor(t, 10*time.Second, "ingress "+addr+" spreads over 3 tasks", func() (bool, string) {
			task, _, err := whoami(freshClient, addr)
			if err != nil {
				return false, err.Error()
			}
			seen[task]++
			return len(seen) == 3, fmt.Sprint(seen)
		})
		t.Logf("ingress %s: answers by task %v", addr, seen)
	}
	// The VIP, from the host: spread, and no SNAT (the task sees one of
	// the host's own addresses, never the VIP's node's or 127.0.0.x's
	// proxy).
	local := map[string]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			local[strings.Split(a.String(), "/")[0]] = true
		}
	}
	seen := map[string]int{}
	harness.WaitFor(t, 10*time.Second, "VIP "+vipAddr+" spreads over 3 tasks", func() (bool, string) {
		task, from, err := whoami(freshClient, vipAddr)
		if err != nil {
			return false, err.Error()
		}
		host, _, _ := net.SplitHostPort(from)
		if !local[host] {
			t.Fatalf("through the VIP the task saw %s, not an address of this host", from)
		}
		seen[task]++
		return len(seen) == 3, fmt.Sprint(seen)
	})
	t.Logf("VIP %s: answers by task %v", vipAddr, seen)

	// web's ingress port is the kernel's: n1's table DNATs it.
	if n, rules := ingressBackends(n1, webPub); n != 3 {
		t.Errorf("n1's ingress rule for web: %d backends, want 3\n%s", n, rules)
	}

	// UDP through ingress: request and response.
	uc, err := net.Dial("udp", fmt.Sprintf("127.0.0.2:%d", udpPub))
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	harness.WaitFor(t, 10*time.Second, "a UDP answer through ingress", func() (bool, string) {
		uc.Write([]byte("ping"))
		uc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		buf := make([]byte, 1024)
		n, err := uc.Read(buf)
		if err != nil {
			return false, err.Error()
		}
		return strings.HasSuffix(string(buf[:n]), " ping"), string(buf[:n])
	})

	// PROXY protocol: the task reads the client's address from the header.
	harness.WaitFor(t, 10*time.Second, "the client's address through PROXY protocol", func() (bool, string) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.3:%d", ppPub), 2*time.Second)
		if err != nil {
			return false, err.Error()
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		fmt.Fprint(conn, "GET /whoami HTTP/1.0\r\n\r\n")
		b, _ := io.ReadAll(conn)
		return strings.Contains(string(b), " "+conn.LocalAddr().String()+"\n"), fmt.Sprintf("client %s, answer %q", conn.LocalAddr(), b)
	})

	// The agent's metrics: backends per service, connections through the
	// userspace proxy (PROXY protocol and UDP ports; the kernel's are not
	// counted).
	m := fetchMetrics(t, c.byName("n3"))
	for _, want := range []string{`shoal_service_backends{service="web"} 3`, `shoal_ingress_connections_total{protocol="tcp",service="pp"}`} {
		if !strings.Contains(m, want) {
			t.Errorf("n3's metrics lack %s", want)
		}
	}

	// A killed node's task leaves. The loopback agents share the host's
	// nftables: a dead host's table dies with it, this one the test removes.
	n3 := c.byName("n3")
	n3.Die()
	if err := vip.Remove(vip.TableName(n3.id)); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 30*time.Second, "n3 down", func() (bool, string) {
		var nodes []api.NodeInfo
		if err := n1.get("/v1/nodes", &nodes); err != nil {
			return false, err.Error()
		}
		for _, n := range nodes {
			if n.Name == "n3" {
				return n.Status == api.NodeDown, string(n.Status)
			}
		}
		return false, "n3 not listed"
	})
	onlyFrom(t, webTasks, time.Now().Add(time.Second), []string{"127.0.0.1:" + fmt.Sprint(webPub), "127.0.0.2:" + fmt.Sprint(webPub), vipAddr}, "n1", "n2")

	// n2's task turns unhealthy: it leaves within a second; its
	// replacement never turns healthy, so never enters.
	if err := os.WriteFile(filepath.Join(sick, "n2"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var turned time.Time
	harness.WaitFor(t, 10*time.Second, "n2's task unhealthy", func() (bool, string) {
		ts, err := tasks(n1, "web")
		if err != nil {
			return false, err.Error()
		}
		for _, x := range ts {
			if webTasks[x.ID] == "n2" && (x.Health == api.HealthUnhealthy || x.State > api.TaskRunning) {
				turned = time.Now()
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", ts)
	})
	// How long n1's table took to drop it, from the API showing it.
	gone := fmt.Sprintf("127.0.0.2 . %d", web)
	took, err := harness.PollEvery(10*time.Millisecond, 5*time.Second, "n1's table without n2's task", func() (bool, string) {
		out, err := exec.Command("nft", "list", "table", "ip", vip.TableName(n1.id)).CombinedOutput()
		return err == nil && !strings.Contains(string(out), gone), string(out)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("n1's VIP table dropped n2's task %s after the API showed it unhealthy", took.Round(time.Millisecond))
	onlyFrom(t, webTasks, turned.Add(time.Second), []string{"127.0.0.1:" + fmt.Sprint(webPub), "127.0.0.2:" + fmt.Sprint(webPub), vipAddr}, "n1")

	t.Logf("n2's task unhealthy at %s; from a second later no request reached it", turned.Format("15:04:05.000"))

	// A restarted agent rebuilds its datapaths from its replica (n2: its
	// new agent's health checks pass, so a healthy task of its own may
	// join again).
	n2 := c.byName("n2")
	n2.stop()
	n2.Start()
	harness.WaitFor(t, 30*time.Second, "n2's ingress port after its restart", func() (bool, string) {
		_, _, err := whoami(freshClient, fmt.Sprintf("127.0.0.2:%d", webPub))
		return err == nil, fmt.Sprint(err)
	})
	if out, err := exec.Command("nft", "list", "table", "ip", vip.TableName(n2.id)).CombinedOutput(); err != nil || !strings.Contains(string(out), ep.VIP) {
		t.Errorf("n2's table after its restart: %v\n%s", err, out)
	}

	// Stopped agents leave no table.
	var ids []string
	for _, a := range c.agents[:2] {
		ids = append(ids, vip.TableName(a.id))
		a.stop()
	}
	out, err := exec.Command("nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list tables: %v %s", err, out)
	}
	for _, id := range ids {
		if strings.Contains(string(out), id) {
			t.Errorf("table %s left after its agent stopped:\n%s", id, out)
		}
	}
}

// onlyFrom asks each of addrs 20 times, from the moment after on, and
// fails unless every answer comes from a task of tasks (ID → node) on
// one of nodes; every request must succeed.
func onlyFrom(t *testing.T, tasks map[string]string, after time.Time, addrs []string, nodes ...string) {
	t.Helper()
	if d := time.Until(after); d > 0 {
		// The rotation may take up to a second to change: what is asked
		// before then is not judged.
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) {
			whoami(freshClient, addrs[0])
		}
	}
	for _, addr := range addrs {
		for i := 0; i < 20; i++ {
			task, _, err := whoami(freshClient, addr)
			if err != nil {
				t.Fatalf("%s after the change: %v", addr, err)
			}
			node, ok := tasks[task]
			if !ok {
				t.Fatalf("%s answered by task %s, not one of the first tasks", addr, task)
			}
			found := false
			for _, n := range nodes {
				found = found || n == node
			}
			if !found {
				t.Fatalf("%s answered by %s's task %s, which left the rotation", addr, node, task)
			}
		}
	}
}

// TestServiceVIPFromContainer: from inside a container (its own network
// namespace, on n1's bridge) the service's VIP reaches both tasks — one
// on the same bridge (its answer comes back over the bridge, through
// br_netfilter's conntrack) and one on n2 — and each task sees the
// client container's own address. A task reaching itself through the
// VIP is answered too (hairpin). The container also fetches the service
// by name (node/dns answers its tasks' addresses until it answers the
// VIP: the fetch checks the name works, not which of the two it gets).
func TestServiceVIPFromContainer(t *testing.T) {
	c := containerCluster(t, 2)
	n1 := c.agents[0]
	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil {
		t.Fatalf("image load: %v %s", err, out)
	}
	if out, err := n1.CLI("service", "create", "vipweb", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=8080",
		"--replicas", "2", "--max-per-node", "1", "--publish", "name=http,target=8080"); err != nil {
		t.Fatalf("create vipweb: %v %s", err, out)
	}
	waitRunning(t, n1, "vipweb", 2, 90*time.Second)
	ep := endpointOf(t, n1, "vipweb")
	url := "http://" + net.JoinHostPort(ep.VIP, "8080")
	if out, err := n1.CLI("service", "create", "vipcli", "--detach", "--image", "shoal/hello:v1", "--env", "PORT=0",
		"--constraint", "node.name==n1", "--env", "HELLO_FETCH=http://vipweb:8080/whoami,"+url+"/whoami"); err != nil {
		t.Fatalf("create vipcli: %v %s", err, out)
	}
	cli := waitRunning(t, n1, "vipcli", 1, 90*time.Second)[0]
	client := nsClient("/run/netns/shoal-" + cli.ID)
	client.Timeout = 3 * time.Second
	client.Transport.(*http.Transport).DisableKeepAlives = true
	seen := map[string]int{}
	harness.WaitFor(t, 20*time.Second, "the VIP from the container spreads over both tasks", func() (bool, string) {
		task, from, err := whoami(client, net.JoinHostPort(ep.VIP, "8080"))
		if err != nil {
			return false, err.Error()
		}
		if host, _, _ := net.SplitHostPort(from); host != cli.Status.IP {
			t.Fatalf("the task saw the client as %s, want the container's own %s", from, cli.Status.IP)
		}
		seen[task]++
		return len(seen) == 2, fmt.Sprint(seen)
	})
	t.Logf("VIP %s from the container %s: answers by task %v", ep.VIP, cli.Status.IP, seen)
	// A task reaching its own service: when the VIP picks the task itself
	// the connection is masqueraded (hairpin), and answers all the same.
	var self api.TaskInfo
	for _, x := range waitRunning(t, n1, "vipweb", 2, 10*time.Second) {
		if x.NodeName == "n1" {
			self = x
		}
	}
	own := nsClient("/run/netns/shoal-" + self.ID)
	own.Timeout = 3 * time.Second
	own.Transport.(*http.Transport).DisableKeepAlives = true
	hits := map[string]int{}
	harness.WaitFor(t, 20*time.Second, "a task reaches itself through its VIP", func() (bool, string) {
		task, _, err := whoami(own, net.JoinHostPort(ep.VIP, "8080"))
		if err != nil {
			t.Fatalf("from a task of the service to its VIP: %v (answers so far %v)", err, hits)
		}
		hits[task]++
		return hits[self.ID] > 0 && len(hits) == 2, fmt.Sprint(hits)
	})

	harness.WaitFor(t, 20*time.Second, "the container's fetches by name and by VIP", func() (bool, string) {
		logs, _ := n1.CLI("service", "logs", "vipcli")
		return strings.Count(logs, ": 200 ") == 2 && strings.Count(logs, " "+cli.Status.IP+":") == 2, logs
	})
}
