// Package gossip is Shoal's membership layer: a thin, non-blocking wrapper
// over hashicorp/memberlist v0.7.0 that every Shoal node runs.
//
// The memberlist node name is the Shoal node name. Each member carries a
// small [Meta] (libp2p peer ID, libp2p port, API address, cluster ID).
// Membership changes arrive on [Gossip.Events]; the channel never blocks
// memberlist and drops the oldest events when full, so consumers resync
// with [Gossip.Members] when [Gossip.DroppedEvents] grows.
//
// Graceful departures are told apart from failures with a leave intent
// that [Gossip.Leave] sends to every member before memberlist's own leave
// broadcast: memberlist v0.7.0 reports both through the same callback.
//
// A member whose meta names a node ID [Config.Denied] reports (a node
// removed from the cluster) is refused when it announces itself or joins,
// and is never listed or reported, so a former member that still holds the
// gossip key cannot make a removed node look alive.
//
// [FaultTransport] wraps a memberlist transport to cut links between
// chosen addresses, for rootless partition tests.
package gossip
