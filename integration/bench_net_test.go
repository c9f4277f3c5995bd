package integration

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/integration/harness"
)

var (
	netBenchMB     = flag.Int("net-mb", 1000, "MB per transfer in BenchmarkTaskNetwork")
	netBenchRuns   = flag.Int("net-runs", 5, "transfers per path in BenchmarkTaskNetwork")
	netBenchGets   = flag.Int("net-gets", 2000, "small GETs per path in BenchmarkTaskNetwork")
	netBenchStarts = flag.Int("net-starts", 5, "creates with and without a namespace in BenchmarkTaskNetwork")
)

// BenchmarkTaskNetwork (`make bench-net`) measures task networking in a
// NetLab of two nodes, each agent in its own namespace on a shared bridge:
//
//   - throughput (GET /bytes of the hello image, -net-mb MB, -net-runs
//     transfers after a warm-up one, median; 200 MB take ~0.1 s here, too
//     short for the shared cores) and request latency (-net-gets GETs of
//     64 bytes over one keep-alive connection per path, median and p99)
//     from a container on n1 to a container on n2 over host-gw routes, against the same traffic between
//     the nodes' own namespaces (the hello binary run in n2's lab
//     namespace, the client in n1's). The client is this process: a thread
//     switched into the client's namespace opens each connection (the
//     container's /run/netns/shoal-TASK or n1's lab namespace). Container
//     and baseline transfers alternate, and so do single GETs, so that the
//     shared machine's noise falls on both;
//   - assignment → running on the node (the executor's start-latency
//     histogram on n1's /metrics, the sum's increase for one task) of a
//     container with its own namespace and one with --network host,
//     alternating, -net-starts each, median.
//
// It fails on a broken setup, never on slow numbers. Everything it makes
// goes: services, containers, task networks, the baseline server, the lab.
func BenchmarkTaskNetwork(b *testing.B) {
	needContainerd(b)
	b.Run("hostgw", func(b *testing.B) {
		benchTaskNetwork(b, "hostgw", func(tb testing.TB) *harness.NetLab { return harness.NewNetLab(tb, []string{"n1", "n2"}) }, true)
	})
	b.Run("vxlan", func(b *testing.B) {
		// n1 and n2 on two subnets behind a router namespace: not on-link,
		// so their tasks' traffic goes over the VXLAN overlay.
		benchTaskNetwork(b, "vxlan", func(tb testing.TB) *harness.NetLab {
			return harness.NewRoutedNetLab(tb, []string{"n1"}, []string{"n2"})
		}, false)
	})
}

// benchTaskNetwork measures the container path against the baseline in
// one lab (metric names start with mode), and, with starts, the cost of a
// namespace at start.
func benchTaskNetwork(b *testing.B, mode string, newLab func(testing.TB) *harness.NetLab, starts bool) {
	c, lab := labCluster(b, newLab)
	n1 := c.agents[0]
	if out, err := n1.CLI("image", "load", ctrEnv.helloTar); err != nil {
		b.Fatalf("image load: %v %s", err, out)
	}
	for _, s := range [][]string{
		{"netsrv", "n2", "PORT=8080"},
		{"netcli", "n1", "PORT=0"},
	} {
		if out, err := n1.CLI("service", "create", s[0], "--detach", "--image", "shoal/hello:v1", "--env", s[2],
			"--constraint", "node.name=="+s[1]); err != nil {
			b.Fatalf("create %s: %v %s", s[0], err, out)
		}
	}
	srv := waitRunning(b, n1, "netsrv", 1, 90*time.Second)[0]
	cli := waitRunning(b, n1, "netcli", 1, 90*time.Second)[0]
	if srv.Status.IP == "" || cli.Status.IP == "" || srv.NodeName != "n2" || cli.NodeName != "n1" {
		b.Fatalf("tasks without addresses or misplaced: server %+v, client %+v", srv, cli)
	}
	cliNS := "/run/netns/shoal-" + cli.ID
	if _, err := os.Stat(cliNS); err != nil {
		b.Fatalf("the client task's namespace: %v", err)
	}

	// The baseline: the same server binary in n2's lab namespace.
	hello := filepath.Join(filepath.Dir(ctrEnv.dir), "hello")
	base := exec.Command("nsenter", append(lab.Nodes[1].Prefix()[1:], hello)...)
	base.Env = append(os.Environ(), "PORT=8081")
	logf, err := os.Create(filepath.Join(b.TempDir(), "baseline.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	base.Stdout, base.Stderr = logf, logf
	if err := base.Start(); err != nil {
		b.Fatalf("baseline server: %v", err)
	}
	b.Cleanup(func() { base.Process.Kill(); base.Wait() })

	paths := []*netPath{
		{name: "container n1 → container n2 (" + mode + ")", ns: cliNS, url: "http://" + net.JoinHostPort(srv.Status.IP, "8080")},
		{name: "n1's namespace → n2's namespace (baseline)", ns: "/run/netns/" + lab.Nodes[0].NS, url: "http://" + net.JoinHostPort(lab.Nodes[1].IP, "8081")},
	}
	for _, p := range paths {
		p.client = nsClient(p.ns)
		harness.WaitFor(b, 30*time.Second, p.name+": a first answer", func() (bool, string) {
			body, err := p.get("/healthz")
			return err == nil && strings.TrimSpace(string(body)) == "ok", fmt.Sprint(err, string(body))
		})
	}

	// A transfer each first (not counted): the connections' windows grow.
	size := int64(*netBenchMB) * 1_000_000
	for _, p := range paths {
		if n, err := p.transfer(size / 4); err != nil || n != size/4 {
			b.Fatalf("%s: warm-up transfer of %d bytes: got %d, %v", p.name, size/4, n, err)
		}
	}
	for range *netBenchRuns {
		for _, p := range paths {
			start := time.Now()
			n, err := p.transfer(size)
			if err != nil || n != size {
				b.Fatalf("%s: transfer of %d bytes: got %d, %v", p.name, size, n, err)
			}
			p.mbps = append(p.mbps, float64(size)/1e6/time.Since(start).Seconds())
		}
	}
	// Small GETs alternate between the paths one by one.
	for range *netBenchGets {
		for _, p := range paths {
			start := time.Now()
			body, err := p.get("/bytes?n=64")
			if err != nil || len(body) != 64 {
				b.Fatalf("%s: small GET: %d bytes, %v", p.name, len(body), err)
			}
			p.lat = append(p.lat, time.Since(start))
		}
	}
	for _, p := range paths {
		slices.Sort(p.mbps)
		slices.Sort(p.lat)
		fmt.Printf("%s: %d × %d MB: median %.0f MB/s %v; %d GETs: median %v p99 %v\n", p.name, len(p.mbps), *netBenchMB,
			median(p.mbps), roundAll(p.mbps), len(p.lat), p.latMedian().Round(time.Microsecond), p.latP99().Round(time.Microsecond))
	}
	ct, bl := paths[0], paths[1]
	tput := median(ct.mbps) / median(bl.mbps)
	latRatio := float64(ct.latMedian()) / float64(bl.latMedian())
	fmt.Printf("%s / baseline: throughput %.2f×, latency median %.2f× (p99 %.2f×)\n",
		mode, tput, latRatio, float64(ct.latP99())/float64(bl.latP99()))
	b.ReportMetric(median(ct.mbps), mode+"-MB/s")
	b.ReportMetric(median(bl.mbps), "baseline-MB/s")
	b.ReportMetric(tput, mode+"-tput-ratio")
	b.ReportMetric(float64(ct.latMedian().Microseconds()), mode+"-lat-us")
	b.ReportMetric(float64(bl.latMedian().Microseconds()), "baseline-lat-us")
	b.ReportMetric(latRatio, mode+"-lat-ratio")

	for _, s := range []string{"netcli", "netsrv"} {
		if out, err := n1.CLI("service", "rm", s); err != nil {
			b.Fatalf("service rm %s: %v %s", s, err, out)
		}
	}

	if !starts {
		return
	}
	// Assignment → running, with and without a namespace, on n1.
	var own, host []time.Duration
	for i := range *netBenchStarts {
		own = append(own, startLatency(b, n1, fmt.Sprintf("own%d", i)))
		host = append(host, startLatency(b, n1, fmt.Sprintf("host%d", i), "--network", "host"))
	}
	slices.Sort(own)
	slices.Sort(host)
	mo, mh := own[len(own)/2], host[len(host)/2]
	fmt.Printf("assignment → running (executor histogram), median of %d: own namespace %v, host network %v, the namespace adds %v (all: %v / %v)\n",
		len(own), mo.Round(time.Millisecond), mh.Round(time.Millisecond), (mo - mh).Round(time.Millisecond), own, host)
	b.ReportMetric(float64(mo.Milliseconds()), "start-own-ms")
	b.ReportMetric(float64(mh.Milliseconds()), "start-host-ms")
	b.ReportMetric(float64((mo - mh).Milliseconds()), "start-added-ms")

	harness.WaitFor(b, 30*time.Second, "no containers left", func() (bool, string) {
		left := 0
		for _, a := range c.agents {
			left += len(containersIn(b, a.namespace()))
		}
		return left == 0, fmt.Sprintf("%d containers left", left)
	})
}

// netPath is one client → server path and what was measured on it.
type netPath struct {
	name, ns, url string
	client        *http.Client
	mbps          []float64
	lat           []time.Duration
}

func (p *netPath) get(path string) ([]byte, error) {
	resp, err := p.client.Get(p.url + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s", resp.Status)
	}
	return body, err
}

// transfer GETs n bytes and reads them all, returning how many came.
func (p *netPath) transfer(n int64) (int64, error) {
	resp, err := p.client.Get(fmt.Sprintf("%s/bytes?n=%d", p.url, n))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s", resp.Status)
	}
	return io.CopyBuffer(io.Discard, resp.Body, make([]byte, 256<<10))
}

func (p *netPath) latMedian() time.Duration { return p.lat[len(p.lat)/2] }
func (p *netPath) latP99() time.Duration    { return p.lat[len(p.lat)*99/100] }

func median(sorted []float64) float64 { return sorted[len(sorted)/2] }

func roundAll(fs []float64) []float64 {
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = float64(int(f + 0.5))
	}
	return out
}

// nsClient is an HTTP client (one keep-alive connection, no compression)
// whose connections are opened in the network namespace at nsPath.
func nsClient(nsPath string) *http.Client {
	tr := &http.Transport{
		DisableCompression:  true,
		MaxIdleConnsPerHost: 1,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var conn net.Conn
			err := harness.InNetNS(nsPath, func() (err error) {
				conn, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}
}

// startLatency creates a one-task hello service on a (constrained to its
// node), waits until it runs and the node's start-latency histogram has
// recorded it, removes it, and returns the histogram sum's increase: the
// time from the task's assignment to the node to its container running.
func startLatency(b *testing.B, a *agentProc, name string, extra ...string) time.Duration {
	b.Helper()
	sum0, count0 := startHistogram(b, a)
	args := append([]string{"service", "create", name, "--detach", "--image", "shoal/hello:v1", "--env", "PORT=0",
		"--constraint", "node.name==" + a.Name}, extra...)
	if out, err := a.CLI(args...); err != nil {
		b.Fatalf("service create %s: %v %s", name, err, out)
	}
	ts := waitRunning(b, a, name, 1, time.Minute)
	if host := len(extra) > 0; host != (ts[0].Status.IP == "") {
		b.Fatalf("%s (host network %v) has IP %q", name, host, ts[0].Status.IP)
	}
	var sum float64
	harness.WaitFor(b, 10*time.Second, "the start-latency histogram to record "+name, func() (bool, string) {
		s, n := startHistogram(b, a)
		sum = s
		return n == count0+1, fmt.Sprintf("count %v, was %v", n, count0)
	})
	if out, err := a.CLI("service", "rm", name); err != nil {
		b.Fatalf("service rm %s: %v %s", name, err, out)
	}
	return time.Duration((sum - sum0) * float64(time.Second))
}

// startHistogram reads the executor's start-latency sum and count from
// the agent's /metrics.
func startHistogram(b *testing.B, a *agentProc) (sum, count float64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.URL("/metrics"), nil)
	resp, err := a.HTTP().Do(req)
	if err != nil {
		b.Fatalf("%s /metrics: %v", a.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("%s /metrics: %s %v", a.Name, resp.Status, err)
	}
	found := 0
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "shoal_executor_task_start_latency_seconds_sum "); ok {
			sum, err = strconv.ParseFloat(v, 64)
			found++
		} else if v, ok := strings.CutPrefix(l, "shoal_executor_task_start_latency_seconds_count "); ok {
			count, err = strconv.ParseFloat(v, 64)
			found++
		}
		if err != nil {
			b.Fatalf("%s /metrics: %q: %v", a.Name, l, err)
		}
	}
	if found != 2 {
		b.Fatalf("%s /metrics: no shoal_executor_task_start_latency_seconds sum and count", a.Name)
	}
	return sum, count
}

// labCluster starts a cluster in a new NetLab (startLabCluster); once the
// lab is gone it checks nothing of it is left on the host.
func labCluster(b *testing.B, newLab func(testing.TB) *harness.NetLab) (*cluster, *harness.NetLab) {
	b.Helper()
	var nodeIDs []string
	b.Cleanup(func() { // registered first: runs after the lab is gone
		if left := netTraces(nodeIDs, nil); len(left) > 0 {
			b.Errorf("left behind: %v", left)
		}
	})
	lab := newLab(b)
	c, _, ids, _ := startLabCluster(b, lab)
	nodeIDs = ids
	return c, lab
}
