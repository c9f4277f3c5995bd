package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/shoal-project/shoal/integration/harness"
)

// fakeUpstream serves A records for names outside .shoal on addr:53 (UDP),
// as a site's resolver would, and answers NXDOMAIN for the rest.
func fakeUpstream(t *testing.T, addr string, records map[string]string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(addr, "53"))
	if err != nil {
		t.Fatalf("upstream on %s:53: %v", addr, err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if ip, ok := records[strings.ToLower(q.Question[0].Name)]; ok && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(fmt.Sprintf("%s 30 IN A %s", q.Question[0].Name, ip))
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
}

// TestDNSForwardsOutsideShoal: the node's DNS server asks the resolvers
// of its resolv.conf (--resolv-conf) for names outside .shoal, with a real
// resolver client on both sides, and follows a change of the file.
func TestDNSForwardsOutsideShoal(t *testing.T) {
	fakeUpstream(t, "127.0.0.77", map[string]string{"outside.example.": "192.0.2.7"})
	fakeUpstream(t, "127.0.0.78", map[string]string{"outside.example.": "192.0.2.8"})
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, 1, "--runtime", "process", "--resolv-conf", conf)
	a := c.agents[0]
	createService(t, a, "worker", "--replicas", "1")
	ts := waitRunning(t, a, "worker", 1, 30*time.Second)
	server := taskEnv(t, ts[0].Status.PID, "SHOAL_DNS")
	if server == "" {
		t.Fatal("the task has no SHOAL_DNS")
	}
	harness.WaitFor(t, 5*time.Second, "outside.example through "+server, func() (bool, string) {
		ips, rcode := queryA(t, server, "outside.example")
		return len(ips) == 1 && ips[0] == "192.0.2.7", fmt.Sprintf("%v %s", ips, dns.RcodeToString[rcode])
	})
	if _, rcode := queryA(t, server, "nosuch.example"); rcode != dns.RcodeNameError {
		t.Fatalf("nosuch.example: %s, want the upstream's NXDOMAIN", dns.RcodeToString[rcode])
	}
	// The site's resolver changes: the node follows its resolv.conf.
	if err := os.WriteFile(conf, []byte("nameserver 127.0.0.78\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	harness.WaitFor(t, 10*time.Second, "outside.example from the new resolver", func() (bool, string) {
		ips, rcode := queryA(t, server, "outside.example")
		return len(ips) == 1 && ips[0] == "192.0.2.8", fmt.Sprintf("%v %s", ips, dns.RcodeToString[rcode])
	})
}
