package dns

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// Stats counts the queries a server handled, by outcome.
type Stats struct {
	Answered       uint64 // answered from the records with at least one record
	NoData         uint64 // a known name without records of the type asked
	NXDomain       uint64 // unknown names under .shoal
	Forwarded      uint64 // answered by an upstream resolver
	Failed         uint64 // SERVFAIL: no upstream answered, or no records yet
	FormErr        uint64 // questions the server could not read
	NotImplemented uint64 // opcodes other than QUERY
}

type counters struct {
	answered, noData, nxDomain, forwarded, failed, formErr, notImplemented atomic.Uint64
}

// count records the outcome of an answer made from the records.
func (c *counters) count(m *dns.Msg) {
	switch {
	case m.Rcode == dns.RcodeNameError:
		c.nxDomain.Add(1)
	case m.Rcode != dns.RcodeSuccess:
		c.failed.Add(1)
	case len(m.Answer) == 0:
		c.noData.Add(1)
	default:
		c.answered.Add(1)
	}
}

// Stats returns the server's counters so far. Queries the library
// rejects before they reach the server (unparsable messages) are not
// counted.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Answered:       c.answered.Load(),
		NoData:         c.noData.Load(),
		NXDomain:       c.nxDomain.Load(),
		Forwarded:      c.forwarded.Load(),
		Failed:         c.failed.Load(),
		FormErr:        c.formErr.Load(),
		NotImplemented: c.notImplemented.Load(),
	}
}
