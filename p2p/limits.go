package p2p

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/x/rate"
)

// resLimits returns explicit limits for one scope; 0 keeps the libp2p
// default for that resource.
func resLimits(conns, streams, fd int, mem int64) rcmgr.ResourceLimits {
	return rcmgr.ResourceLimits{
		Conns:           rcmgr.LimitVal(conns),
		ConnsInbound:    rcmgr.LimitVal(conns),
		ConnsOutbound:   rcmgr.LimitVal(conns),
		Streams:         rcmgr.LimitVal(streams),
		StreamsInbound:  rcmgr.LimitVal(streams),
		StreamsOutbound: rcmgr.LimitVal(streams),
		FD:              rcmgr.LimitVal(fd),
		Memory:          rcmgr.LimitVal64(mem),
	}
}

// limits builds explicit resource limits. The libp2p defaults are sized for
// public DHT nodes and reset refused streams silently; a Shoal cluster is a
// set of trusted peers that open many short RPC streams and a few long Raft
// and blob streams, so every scope gets generous explicit values.
func limits() rcmgr.ConcreteLimitConfig {
	const mib = 1 << 20
	const gib = 1 << 30
	base := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&base) // identify and ping
	// A leader holds a connection to every member (its state feed): room
	// for 10,000 members and their streams.
	system := resLimits(16384, 65536, 16384, 4*gib)
	transient := resLimits(1024, 4096, 2048, 512*mib)
	proto := resLimits(0, 32768, 0, 2*gib)
	protoPeer := resLimits(0, 8192, 0, gib)
	partial := rcmgr.PartialLimitConfig{
		System:               system,
		Transient:            transient,
		AllowlistedSystem:    system,
		AllowlistedTransient: transient,
		ServiceDefault:       proto,
		ServicePeerDefault:   protoPeer,
		ProtocolDefault:      proto,
		ProtocolPeerDefault:  protoPeer,
		PeerDefault:          resLimits(64, 16384, 128, gib),
		Conn:                 resLimits(1, 0, 1, 128*mib),
		Stream:               resLimits(0, 1, 0, 64*mib),
	}
	return partial.Build(base.AutoScale())
}

// newResourceManager returns a resource manager with the limits above and
// without the per-IP connection rate limit (cluster peers reconnect often;
// unknown peers are bounded by the Gater instead).
func newResourceManager() (network.ResourceManager, error) {
	return rcmgr.NewResourceManager(
		rcmgr.NewFixedLimiter(limits()),
		rcmgr.WithConnRateLimiters(&rate.Limiter{}),
		rcmgr.WithLimitPerSubnet(
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 32, ConnCount: 256}},
			[]rcmgr.ConnLimitPerSubnet{{PrefixLength: 56, ConnCount: 256}},
		),
	)
}
