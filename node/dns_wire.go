package node

import (
	"context"
	"net"
	"time"

	"github.com/shoal-project/shoal/node/dns"
	"github.com/shoal-project/shoal/runtime/cni"
)

// dnsLoop runs this node's DNS server (node/dns) once the node has a
// subnet: on its bridge's gateway address, port 53, which every task in
// its own namespace reaches and names in its /etc/resolv.conf, and which
// process tasks get in $SHOAL_DNS. Its records follow the local replica.
func (a *Agent) dnsLoop(ctx context.Context) {
	var gw string
	for ctx.Err() == nil {
		changed := a.store().View().NodesChanged()
		if n, ok := a.store().Node(a.ID()); ok && n.Subnet != "" {
			p, err := cni.Gateway(n.Subnet)
			if err == nil {
				if err = cni.EnsureBridge(cni.BridgeName(a.ID()), p); err == nil {
					gw = p.Addr().String()
					break
				}
			}
			a.log.Warn("dns: cannot set up the node's bridge; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-time.After(5 * time.Second):
		}
	}
	if gw == "" {
		return
	}
	srv, err := dns.New(dns.Config{Addr: net.JoinHostPort(gw, "53"), Logger: a.log.With("logger", "dns")})
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		a.log.Error("dns: not serving", "addr", gw+":53", "err", err)
		return
	}
	defer srv.Close()
	a.dnsAddr.Store(gw)
	a.log.Info("serving DNS for tasks", "addr", gw+":53")
	srv.Follow(ctx, func() (dns.Records, <-chan struct{}) {
		changed := a.store().Watch() // before the view: it holds all it signals
		v := a.store().View()
		return dns.FromAPI(v.Services(), v.Tasks()), changed
	}, 200*time.Millisecond)
}

// nameserver is the IP of this node's DNS server ("" until it serves).
func (a *Agent) nameserver() string {
	s, _ := a.dnsAddr.Load().(string)
	return s
}
