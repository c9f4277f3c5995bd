package dns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// forwarder asks the upstream resolvers what the server does not answer.
type forwarder struct {
	up      *upstreams
	timeout time.Duration // per resolver and transport
	udp     dns.Client
	tcp     dns.Client
}

func newForwarder(up *upstreams, timeout time.Duration) *forwarder {
	return &forwarder{
		up:      up,
		timeout: timeout,
		udp:     dns.Client{Net: "udp", Timeout: timeout},
		tcp:     dns.Client{Net: "tcp", Timeout: timeout},
	}
}

// forward asks the resolvers, in order, until one answers, and returns
// its reply with req's ID. The query goes out with a fresh ID; a reply
// truncated over UDP is asked again over TCP.
func (f *forwarder) forward(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	list, err := f.up.get(time.Now())
	if err != nil {
		return nil, err
	}
	q := req.Copy()
	q.Id = dns.Id()
	var errs []error
	for _, addr := range list {
		resp, err := f.exchange(ctx, q, addr)
		if err == nil {
			resp.Id = req.Id
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, errors.New("no upstream resolver")
	}
	return nil, errors.Join(errs...)
}

// exchange asks one resolver, over UDP and, if the answer was truncated,
// over TCP, each within the timeout.
func (f *forwarder) exchange(ctx context.Context, q *dns.Msg, addr string) (*dns.Msg, error) {
	resp, err := f.exchangeOver(ctx, &f.udp, q, addr)
	if err != nil || !resp.Truncated {
		return resp, err
	}
	return f.exchangeOver(ctx, &f.tcp, q, addr)
}

func (f *forwarder) exchangeOver(ctx context.Context, c *dns.Client, q *dns.Msg, addr string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, _, err := c.ExchangeContext(ctx, q, addr)
	if err != nil {
		return nil, fmt.Errorf("over %s: %w", c.Net, err)
	}
	return resp, nil
}
