package dns

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestServiceAndTasksA(t *testing.T) {
	s := startServer(t, webRecords())
	want := []string{"10.42.1.2", "10.42.2.2", "10.42.3.2"}
	for _, network := range []string{"udp", "tcp"} {
		for _, name := range []string{"web.", "web.shoal.", "tasks.web.", "tasks.web.shoal."} {
			r := ask(t, s, network, name, dns.TypeA)
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
				t.Fatalf("%s over %s: rcode %s, aa %v", name, network, dns.RcodeToString[r.Rcode], r.Authoritative)
			}
			if got := addrs(r.Answer); !slices.Equal(got, want) {
				t.Errorf("%s over %s: %v, want %v", name, network, got, want)
			}
			for _, rr := range r.Answer {
				if rr.Header().Ttl != 2 || rr.Header().Name != name {
					t.Errorf("%s: record %v: want TTL 2 and the asked name", name, rr)
				}
			}
		}
	}
}

func TestTaskLabelA(t *testing.T) {
	s := startServer(t, webRecords())
	if got := addrs(ask(t, s, "udp", "2.web.shoal.", dns.TypeA).Answer); !slices.Equal(got, []string{"10.42.2.2"}) {
		t.Errorf("2.web.shoal: %v", got)
	}
	if got := addrs(ask(t, s, "udp", "0AF3.agent.", dns.TypeA).Answer); !slices.Equal(got, []string{"10.42.1.9"}) {
		t.Errorf("0af3.agent: %v", got)
	}
	if r := ask(t, s, "udp", "7.web.shoal.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("7.web.shoal (no such slot): %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}

func TestSRVWithAdditionalA(t *testing.T) {
	s := startServer(t, webRecords())
	for _, tc := range []struct {
		name string
		port uint16
	}{{"_http._tcp.web.shoal.", 8080}, {"_HTTP._TCP.web.", 8080}, {"_dns._udp.web.shoal.", 5353}} {
		r := ask(t, s, "udp", tc.name, dns.TypeSRV)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 3 {
			t.Fatalf("%s: rcode %s, %d answers, want 3", tc.name, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		var targets []string
		for _, rr := range r.Answer {
			srv := rr.(*dns.SRV)
			if srv.Port != tc.port {
				t.Errorf("%s: port %d, want %d", tc.name, srv.Port, tc.port)
			}
			targets = append(targets, srv.Target)
		}
		slices.Sort(targets)
		if want := []string{"1.web.shoal.", "2.web.shoal.", "3.web.shoal."}; !slices.Equal(targets, want) {
			t.Errorf("%s: targets %v, want %v", tc.name, targets, want)
		}
		extra := map[string]string{}
		for _, rr := range r.Extra {
			if a, ok := rr.(*dns.A); ok {
				extra[a.Hdr.Name] = a.A.String()
			}
		}
		if extra["1.web.shoal."] != "10.42.1.2" || extra["3.web.shoal."] != "10.42.3.2" || len(extra) != 3 {
			t.Errorf("%s: additional A records %v", tc.name, extra)
		}
	}
	// A target resolves on its own too.
	if got := addrs(ask(t, s, "tcp", "3.web.shoal.", dns.TypeA).Answer); !slices.Equal(got, []string{"10.42.3.2"}) {
		t.Errorf("3.web.shoal: %v", got)
	}
	// A port the service has not, or not with that protocol, is not a name.
	for _, name := range []string{"_ftp._tcp.web.shoal.", "_http._udp.web.shoal."} {
		if r := ask(t, s, "udp", name, dns.TypeSRV); r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: %s, want NXDOMAIN", name, dns.RcodeToString[r.Rcode])
		}
	}
	// A named port without running tasks: the name exists, no records.
	if r := ask(t, s, "udp", "_pg._tcp.db.shoal.", dns.TypeSRV); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("_pg._tcp.db: rcode %s, %d answers, want NODATA", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

func TestNXDomainUnderZone(t *testing.T) {
	s := startServer(t, webRecords())
	for _, name := range []string{"nope.shoal.", "tasks.nope.shoal.", "a.b.c.web.shoal.", "_http._tcp.nope.shoal.", "we_b.shoal.", "-web.shoal."} {
		r := ask(t, s, "udp", name, dns.TypeA)
		if r.Rcode != dns.RcodeNameError {
			t.Errorf("%s: %s, want NXDOMAIN", name, dns.RcodeToString[r.Rcode])
		}
		if len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("%s: authority %v, want the zone's SOA", name, r.Ns)
		}
	}
}

func TestNoData(t *testing.T) {
	s := startServer(t, webRecords())
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"web.shoal.", dns.TypeAAAA},
		{"tasks.web.", dns.TypeAAAA},
		{"web.shoal.", dns.TypeMX},
		{"db.shoal.", dns.TypeA}, // a service without running tasks
		{"_http._tcp.web.shoal.", dns.TypeA},
		{"shoal.", dns.TypeA},
	} {
		r := ask(t, s, "udp", q.name, q.qtype)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
			t.Errorf("%s %s: rcode %s, answer %v, want NODATA", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.Answer)
		}
	}
}

func TestAAAAForIPv6Tasks(t *testing.T) {
	s := startServer(t, NewSnapshot([]Service{{Name: "v6"}}, []Task{{Service: "v6", Label: "1", IP: "fd00::2"}, {Service: "v6", Label: "2", IP: "10.42.0.2"}}))
	if got := addrs(ask(t, s, "udp", "v6.shoal.", dns.TypeAAAA).Answer); !slices.Equal(got, []string{"fd00::2"}) {
		t.Errorf("AAAA: %v", got)
	}
	if got := addrs(ask(t, s, "udp", "v6.shoal.", dns.TypeA).Answer); !slices.Equal(got, []string{"10.42.0.2"}) {
		t.Errorf("A: %v", got)
	}
}

func TestCaseInsensitive(t *testing.T) {
	s := startServer(t, webRecords())
	for _, name := range []string{"WEB.", "Web.Shoal.", "TASKS.wEb.SHOAL.", "web.shoal"} {
		m := new(dns.Msg).SetQuestion(dns.Fqdn(name), dns.TypeA)
		r := exchange(t, s, "udp", m)
		if len(r.Answer) != 3 {
			t.Errorf("%s: %d answers, want 3", name, len(r.Answer))
		}
		if len(r.Answer) > 0 && r.Answer[0].Header().Name != dns.Fqdn(name) {
			t.Errorf("%s: answer named %q, want the name as asked", name, r.Answer[0].Header().Name)
		}
	}
}

func TestNoRecordsYet(t *testing.T) {
	s := startServer(t, nil)
	if r := ask(t, s, "udp", "web.shoal.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("before the first records: %s, want SERVFAIL (deny nothing)", dns.RcodeToString[r.Rcode])
	}
}

// TestRecordChangeVisible swaps the records and polls, with a deadline,
// until the answer follows.
func TestRecordChangeVisible(t *testing.T) {
	s := startServer(t, webRecords())
	s.SetRecords(NewSnapshot([]Service{{Name: "web"}}, []Task{{Service: "web", Label: "4", IP: "10.42.4.2"}}))
	deadline := time.Now().Add(time.Second)
	for {
		got := addrs(ask(t, s, "udp", "tasks.web.shoal.", dns.TypeA).Answer)
		if slices.Equal(got, []string{"10.42.4.2"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 1s: %v, want the new task only", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.SetRecords(NewSnapshot(nil, nil))
	if r := ask(t, s, "udp", "web.shoal.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("removed service: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}

// TestLargeAnswerTruncatedOverUDP: an answer too big for a 512-byte UDP
// reply comes truncated (TC), and whole over TCP.
func TestLargeAnswerTruncatedOverUDP(t *testing.T) {
	var tasks []Task
	for i := range 100 {
		tasks = append(tasks, Task{Service: "big", Label: fmt.Sprint(i + 1), IP: fmt.Sprintf("10.42.%d.%d", i/200, i%200+2)})
	}
	s := startServer(t, NewSnapshot([]Service{{Name: "big"}}, tasks))
	udp := ask(t, s, "udp", "tasks.big.shoal.", dns.TypeA)
	if !udp.Truncated || len(udp.Answer) >= 100 {
		t.Errorf("over UDP: truncated %v with %d answers, want TC", udp.Truncated, len(udp.Answer))
	}
	if tcp := ask(t, s, "tcp", "tasks.big.shoal.", dns.TypeA); tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("over TCP: truncated %v with %d answers, want all 100", tcp.Truncated, len(tcp.Answer))
	}
	m := new(dns.Msg).SetQuestion("tasks.big.shoal.", dns.TypeA)
	m.SetEdns0(4096, false)
	if r := exchange(t, s, "udp", m); r.Truncated || len(r.Answer) != 100 || r.IsEdns0() == nil {
		t.Errorf("over UDP with EDNS 4096: truncated %v with %d answers, OPT %v", r.Truncated, len(r.Answer), r.IsEdns0())
	}
}

func TestNotImplementedOpcode(t *testing.T) {
	s := startServer(t, webRecords())
	m := new(dns.Msg).SetNotify("web.shoal.")
	if r := exchange(t, s, "udp", m); r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY: %s, want NOTIMP", dns.RcodeToString[r.Rcode])
	}
}

// TestMalformedQueries sends raw packets the server cannot read: each
// with a full header is answered FORMERR, and the server keeps serving.
func TestMalformedQueries(t *testing.T) {
	s := startServer(t, webRecords())
	conn, err := net.Dial("udp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	header := func(id uint16, qd, an uint16) []byte {
		return []byte{byte(id >> 8), byte(id), 0x01, 0x00, byte(qd >> 8), byte(qd), byte(an >> 8), byte(an), 0, 0, 0, 0}
	}
	for i, pkt := range [][]byte{
		header(1, 2, 0),                                                // two questions
		header(2, 0, 0),                                                // none
		append(header(3, 1, 0), 3, 'w', 'e'),                           // cut inside the name
		append(header(4, 1, 0), 0xc0, 12, 0, 1, 0, 1),                  // a name pointing at itself
		append(header(5, 1, 0), 3, 'w', 'e', 'b', 0, 0),                // cut inside the type
		append(header(6, 1, 1), 3, 'w', 'e', 'b', 0, 0, 1, 0, 1, 0xff), // an answer that does not parse
		append(header(7, 1, 0), 64, 'x', 'x', 'x', 'x', 0, 0, 1, 0, 1), // a label longer than 63
	} {
		if _, err := conn.Write(pkt); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 512)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("packet %d: no answer: %v", i, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatalf("packet %d: answer does not parse: %v", i, err)
		}
		if r.Rcode != dns.RcodeFormatError || int(r.Id) != i+1 {
			t.Errorf("packet %d: id %d rcode %s, want id %d FORMERR", i, r.Id, dns.RcodeToString[r.Rcode], i+1)
		}
	}
	// Shorter than a header: no answer (any would help amplification).
	conn.Write([]byte{0, 1, 2})
	if got := addrs(ask(t, s, "udp", "web.shoal.", dns.TypeA).Answer); len(got) != 3 {
		t.Errorf("after the bad packets: %v", got)
	}
}

func TestStats(t *testing.T) {
	s := startServer(t, webRecords())
	ask(t, s, "udp", "web.shoal.", dns.TypeA)
	ask(t, s, "udp", "web.shoal.", dns.TypeAAAA)
	ask(t, s, "udp", "nope.shoal.", dns.TypeA)
	ask(t, s, "udp", "example.com.", dns.TypeA) // no upstream: SERVFAIL
	want := Stats{Answered: 1, NoData: 1, NXDomain: 1, Failed: 1}
	if got := s.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
}

func TestStartTwiceAndClose(t *testing.T) {
	s := startServer(t, webRecords())
	if err := s.Start(t.Context()); err == nil {
		t.Error("second Start: no error")
	}
	addr := s.Addr().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Close() // twice is fine
	c := dns.Client{Net: "tcp", Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(new(dns.Msg).SetQuestion("web.shoal.", dns.TypeA), addr); err == nil {
		t.Error("answered after Close")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{{Addr: "nope"}, {Addr: "127.0.0.1:53", Upstreams: []string{"8.8.8.8"}}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}
