package node

import (
	"context"
	"crypto/sha256"
	"net"
	"time"

	"github.com/shoal-project/shoal/node/dns"
	"github.com/shoal-project/shoal/runtime/cni"
)

// dnsLoop runs this node's DNS server (node/dns) where its tasks reach
// it, and records follow the local replica. On a node that runs
// containers it waits for the node's subnet and serves on the bridge's
// gateway address, port 53, which every task in its own namespace reaches
// and names in its /etc/resolv.conf. On a node with host-network tasks
// only it serves on a loopback address of its own (127.x.y.z, from its
// node ID, so agents sharing a host do not collide). Process tasks get
// the address in $SHOAL_DNS.
func (a *Agent) dnsLoop(ctx context.Context) {
	gw := ""
	if a.containerd == nil {
		gw = loopbackDNSAddr(a.ID())
	}
	for gw == "" && ctx.Err() == nil {
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
	srv, err := dns.New(dns.Config{Addr: net.JoinHostPort(gw, "53"), ResolvConf: a.cfg.ResolvConf, Logger: a.log.With("logger", "dns")})
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

// loopbackDNSAddr is the loopback address a node without a bridge serves
// DNS on: 127 and three bytes of the SHA-256 of its node ID (never
// 127.0.0.x, where host resolvers such as systemd-resolved listen).
func loopbackDNSAddr(nodeID string) string {
	h := sha256.Sum256([]byte(nodeID))
	b := h[0]
	if b == 0 {
		b = 1
	}
	return net.IPv4(127, b, h[1], max(h[2], 1)).String()
}
