package dns

import (
	"github.com/miekg/dns"
)

// ServeDNS answers one query: from the records when the name is the
// server's (see answer), otherwise from an upstream resolver. The
// library has already answered FORMERR to queries that do not parse or do
// not ask exactly one question.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if req.Opcode != dns.OpcodeQuery {
		s.stats.notImplemented.Add(1)
		s.reply(w, req, new(dns.Msg).SetRcode(req, dns.RcodeNotImplemented))
		return
	}
	if len(req.Question) != 1 {
		s.stats.formErr.Add(1)
		s.reply(w, req, new(dns.Msg).SetRcode(req, dns.RcodeFormatError))
		return
	}
	q := req.Question[0]
	m := new(dns.Msg).SetReply(req)
	m.RecursionAvailable = true
	if answer(m, q, parseName(q.Name), s.currentRecords(), s.ttl) {
		s.stats.count(m)
		if req.IsEdns0() != nil {
			m.SetEdns0(ednsSize, false)
		}
		s.reply(w, req, m)
		return
	}
	resp, err := s.fwd.forward(s.ctx, req)
	if err != nil {
		s.stats.failed.Add(1)
		s.log.Debug("dns: forwarding failed", "name", q.Name, "type", dns.TypeToString[q.Qtype], "err", err)
		m := new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		s.reply(w, req, m)
		return
	}
	s.stats.forwarded.Add(1)
	s.reply(w, req, resp)
}

// reply writes m, truncated to what the client can take: over UDP its
// EDNS buffer size (512 bytes without EDNS), over TCP a whole message.
func (s *Server) reply(w dns.ResponseWriter, req, m *dns.Msg) {
	size := dns.MaxMsgSize
	if w.RemoteAddr().Network() == "udp" {
		size = dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
	}
	m.Truncate(size)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns: writing answer", "err", err)
	}
}
