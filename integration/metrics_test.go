package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/integration/harness"
)

// TestMetricsScrapedByPrometheus: Debian's prometheus server scrapes a
// 3-node cluster every second; every target reports, the leader's commit
// index in Prometheus matches `shoal cluster status`, and promtool finds no
// problem in any node's /metrics. It fails (never skips) without
// prometheus and promtool: run scripts/install-deps.sh.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is not installed (run scripts/install-deps.sh): %v", err)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (run scripts/install-deps.sh): %v", err)
	}
	c := startClusterWith(t, 3, func(string) []string {
		return []string{"--api-addr", fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))}
	})
	waitVoters(t, c.agents[0], 3)

	for _, a := range c.agents {
		body := fetchMetrics(t, a)
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("promtool check metrics on %s: %v\n%s", a.Name, err, out)
		}
	}

	// Prometheus scrapes over HTTPS, trusting the cluster CA, with a
	// read-only API token.
	dir := t.TempDir()
	ca, err := c.agents[0].CLI("cluster", "ca")
	if err != nil {
		t.Fatalf("cluster ca: %v %s", err, ca)
	}
	tok, err := c.agents[0].CLI("acl", "token", "create", "--name", "prometheus", "--role", "read-only", "-q")
	if err != nil {
		t.Fatalf("token: %v %s", err, tok)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte(ca), 0o644)
	os.WriteFile(filepath.Join(dir, "token"), []byte(strings.TrimSpace(tok)), 0o600)
	promAddr := startPrometheus(t, promBin, c.agents, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "token"))
	harness.WaitFor(t, 60*time.Second, "Prometheus to hold the leader's commit index from all 3 targets", func() (bool, string) {
		var st api.ClusterStatus
		out, err := c.agents[0].CLI("cluster", "status", "-o", "json")
		if err != nil {
			return false, fmt.Sprintf("cluster status: %v: %s", err, out)
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return false, fmt.Sprintf("cluster status output: %v: %s", err, out)
		}
		leader := c.byName(st.Leader)
		if leader == nil {
			return false, "no leader in " + out
		}
		byInstance, err := queryPrometheus(promAddr, "shoal_raft_commit_index")
		if err != nil {
			return false, err.Error()
		}
		if len(byInstance) != 3 {
			return false, fmt.Sprintf("%d targets report: %v", len(byInstance), byInstance)
		}
		got, ok := byInstance[leader.APIAddr]
		return ok && got == float64(st.CommitIndex), fmt.Sprintf("leader %s: prometheus %v, cluster status %d", st.Leader, got, st.CommitIndex)
	})
	leaders, err := queryPrometheus(promAddr, "shoal_raft_is_leader == 1")
	if err != nil || len(leaders) != 1 {
		t.Fatalf("shoal_raft_is_leader == 1 on %v (%v), want one target", leaders, err)
	}
}

// fetchMetrics returns the body of an agent's GET /metrics.
func fetchMetrics(t *testing.T, a *agentProc) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", a.URL("/metrics"), nil)
	resp, err := a.HTTP().Do(req)
	if err != nil {
		t.Fatalf("%s /metrics: %v", a.Name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s /metrics: %s %v", a.Name, resp.Status, err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("%s /metrics: content type %q", a.Name, ct)
	}
	return string(b)
}

// startPrometheus runs prometheus on a free port with its own config and
// storage under the test's temp dir, scraping agents every second, and
// returns its address once it is ready. It scrapes over HTTPS, trusting
// the CA in caFile, with the bearer token in tokenFile.
func startPrometheus(t *testing.T, bin string, agents []*agentProc, caFile, tokenFile string) string {
	t.Helper()
	dir := t.TempDir()
	var targets []string
	for _, a := range agents {
		targets = append(targets, strconv.Quote(a.APIAddr))
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: shoal\n    scheme: https\n"+
		"    tls_config:\n      ca_file: %s\n    authorization:\n      credentials_file: %s\n    static_configs:\n      - targets: [%s]\n",
		caFile, tokenFile, strings.Join(targets, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", harness.FreePort(t))
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.console.templates="+dir, "--web.console.libraries="+dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("---- prometheus log\n%s", b)
		}
	})
	harness.WaitFor(t, 30*time.Second, "prometheus to be ready", func() (bool, string) {
		select {
		case <-exited:
			t.Fatalf("prometheus exited: %v", cmd.ProcessState)
		default:
		}
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return addr
}

// queryPrometheus runs an instant query and returns each series' value by
// its instance label.
func queryPrometheus(addr, query string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("query %s: %v", query, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s %s", query, r.Status, r.Error)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		str, _ := s.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v", query, s.Value[1])
		}
		out[s.Metric["instance"]] = v
	}
	return out, nil
}
