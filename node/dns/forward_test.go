package dns

import (
	"net"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// answerA answers every A question with ip.
func answerA(ip string) func(dns.ResponseWriter, *dns.Msg) {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg).SetReply(r)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
		w.WriteMsg(m)
	}
}

func TestForwardToUpstream(t *testing.T) {
	up := startUpstream(t, answerA("192.0.2.7"))
	s := startServer(t, webRecords(), up.addr)
	// Names outside .shoal that are not services, including ones shaped
	// like ours, go upstream.
	for _, name := range []string{"example.com.", "example.", "tasks.nope.", "_http._tcp.nope.", "1.nope."} {
		for _, network := range []string{"udp", "tcp"} {
			r := ask(t, s, network, name, dns.TypeA)
			if r.Rcode != dns.RcodeSuccess || !slices.Equal(addrs(r.Answer), []string{"192.0.2.7"}) {
				t.Errorf("%s over %s: rcode %s, answer %v", name, network, dns.RcodeToString[r.Rcode], r.Answer)
			}
			if r.Authoritative {
				t.Errorf("%s: a forwarded answer marked authoritative", name)
			}
		}
	}
	// A known service's name is never forwarded.
	if got := addrs(ask(t, s, "udp", "web.", dns.TypeA).Answer); len(got) != 3 {
		t.Errorf("web.: %v", got)
	}
	if got := s.Stats().Forwarded; got != 10 {
		t.Errorf("Forwarded = %d, want 10", got)
	}
}

func TestForwardServfailWhenUpstreamDown(t *testing.T) {
	s := startServer(t, webRecords(), deadAddr(t))
	for _, network := range []string{"udp", "tcp"} {
		r := ask(t, s, network, "example.com.", dns.TypeA)
		if r.Rcode != dns.RcodeServerFailure {
			t.Errorf("over %s: %s, want SERVFAIL", network, dns.RcodeToString[r.Rcode])
		}
	}
	// Names under .shoal do not need an upstream.
	if got := addrs(ask(t, s, "udp", "web.shoal.", dns.TypeA).Answer); len(got) != 3 {
		t.Errorf("web.shoal.: %v", got)
	}
}

func TestForwardTriesNextUpstream(t *testing.T) {
	up := startUpstream(t, answerA("192.0.2.8"))
	s := startServer(t, nil, deadAddr(t), up.addr)
	if got := addrs(ask(t, s, "udp", "example.com.", dns.TypeA).Answer); !slices.Equal(got, []string{"192.0.2.8"}) {
		t.Errorf("answer %v, want the second upstream's", got)
	}
}

// TestForwardRetriesTruncatedOverTCP: an upstream whose UDP answer is
// truncated is asked again over TCP, and the client gets the whole answer.
func TestForwardRetriesTruncatedOverTCP(t *testing.T) {
	full := answerA("192.0.2.9")
	up := startUpstream(t, func(w dns.ResponseWriter, r *dns.Msg) {
		if w.RemoteAddr().Network() == "udp" {
			m := new(dns.Msg).SetReply(r)
			m.Truncated = true
			w.WriteMsg(m)
			return
		}
		full(w, r)
	})
	s := startServer(t, nil, up.addr)
	r := ask(t, s, "udp", "big.example.", dns.TypeA)
	if r.Truncated || !slices.Equal(addrs(r.Answer), []string{"192.0.2.9"}) {
		t.Errorf("truncated %v, answer %v: want the TCP answer", r.Truncated, r.Answer)
	}
	if got := up.transports(); !slices.Equal(got, []string{"udp", "tcp"}) {
		t.Errorf("upstream was asked over %v, want udp then tcp", got)
	}
}

// TestForwardKeepsClientID: the client gets its own ID back, whatever
// ID the query upstream had.
func TestForwardKeepsClientID(t *testing.T) {
	up := startUpstream(t, answerA("192.0.2.10"))
	s := startServer(t, nil, up.addr)
	m := new(dns.Msg).SetQuestion("example.com.", dns.TypeA)
	m.Id = 4242
	r := exchange(t, s, "tcp", m)
	if r.Id != 4242 {
		t.Errorf("answer ID %d, want 4242", r.Id)
	}
	if len(up.transports()) != 1 {
		t.Errorf("upstream asked %d times, want 1", len(up.transports()))
	}
}
