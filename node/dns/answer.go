package dns

import (
	"math/rand/v2"
	"net"

	"github.com/miekg/dns"
)

// answer fills m, a reply to q whose name parsed as n, from recs. It
// returns false when the name is not this server's to answer, and goes
// upstream: a name outside .shoal that recs does not know (or any, before
// the first records). Under .shoal an unknown name is NXDOMAIN, and with
// no records yet (recs nil) SERVFAIL, so a node that has not loaded the
// state denies nothing.
func answer(m *dns.Msg, q dns.Question, n name, recs Records, ttl uint32) bool {
	if n.kind == kindOther {
		if !n.inZone {
			return false
		}
		return nxdomain(m, ttl)
	}
	if recs == nil {
		if !n.inZone {
			return false
		}
		m.Rcode = dns.RcodeServerFailure
		return true
	}
	var (
		ips     []net.IP
		targets []SRVTarget
		ok      bool
	)
	switch n.kind {
	case kindApex:
		ok = true
	case kindService:
		ips, ok = recs.Service(n.service)
	case kindTasks:
		ips, ok = recs.Tasks(n.service)
	case kindTask:
		ips, ok = recs.Task(n.service, n.label)
	case kindSRV:
		targets, ok = recs.SRV(n.service, n.port, n.proto)
	}
	if !ok {
		if !n.inZone {
			return false
		}
		return nxdomain(m, ttl)
	}
	m.Authoritative = true
	if q.Qclass == dns.ClassINET || q.Qclass == dns.ClassANY {
		switch n.kind {
		case kindApex:
			if q.Qtype == dns.TypeSOA || q.Qtype == dns.TypeANY {
				m.Answer = append(m.Answer, soa(ttl))
			}
		case kindSRV:
			if q.Qtype == dns.TypeSRV || q.Qtype == dns.TypeANY {
				m.Answer, m.Extra = srvRecords(q.Name, n.service, targets, ttl)
			}
		default:
			m.Answer = addressRecords(q.Name, q.Qtype, ips, ttl)
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{soa(ttl)} // NODATA
	}
	return true
}

func nxdomain(m *dns.Msg, ttl uint32) bool {
	m.Authoritative = true
	m.Rcode = dns.RcodeNameError
	m.Ns = []dns.RR{soa(ttl)}
	return true
}

// soa is the zone's SOA record, for negative answers: its minimum, the
// negative-caching TTL, is the answers' TTL.
func soa(ttl uint32) dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: Zone + ".", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      Zone + ".",
		Mbox:    "hostmaster." + Zone + ".",
		Serial:  1,
		Refresh: 60,
		Retry:   60,
		Expire:  60,
		Minttl:  ttl,
	}
}

// addressRecords returns the A (qtype A), AAAA (qtype AAAA) or both (ANY)
// records of ips, named owner, starting at a random one so clients that
// take the first spread over the tasks.
func addressRecords(owner string, qtype uint16, ips []net.IP, ttl uint32) []dns.RR {
	var out []dns.RR
	start := 0
	if len(ips) > 1 {
		start = rand.IntN(len(ips))
	}
	for i := range ips {
		if rr := addressRecord(owner, qtype, ips[(start+i)%len(ips)], ttl); rr != nil {
			out = append(out, rr)
		}
	}
	return out
}

// addressRecord returns ip's A or AAAA record if qtype asks for it.
func addressRecord(owner string, qtype uint16, ip net.IP, ttl uint32) dns.RR {
	if v4 := ip.To4(); v4 != nil {
		if qtype != dns.TypeA && qtype != dns.TypeANY {
			return nil
		}
		return &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: v4}
	}
	if qtype != dns.TypeAAAA && qtype != dns.TypeANY {
		return nil
	}
	return &dns.AAAA{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: ip.To16()}
}

// srvRecords returns one SRV record per target name and port, named owner,
// and the targets' addresses for the additional section. Targets are
// always written under .shoal, where they resolve.
func srvRecords(owner, service string, targets []SRVTarget, ttl uint32) (answer, extra []dns.RR) {
	type key struct {
		name string
		port uint16
	}
	seen := map[key]bool{}
	start := 0
	if len(targets) > 1 {
		start = rand.IntN(len(targets))
	}
	for i := range targets {
		t := targets[(start+i)%len(targets)]
		target := t.Label + "." + service + "." + Zone + "."
		if k := (key{target, t.Port}); !seen[k] {
			seen[k] = true
			answer = append(answer, &dns.SRV{
				Hdr:      dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: ttl},
				Priority: 0,
				Weight:   10,
				Port:     t.Port,
				Target:   target,
			})
		}
		extra = append(extra, addressRecord(target, dns.TypeANY, t.IP, ttl))
	}
	return answer, extra
}
