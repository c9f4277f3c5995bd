// Package p2p carries all node-to-node traffic of Shoal (Raft, RPC, the join
// handshake) over libp2p with TCP, Noise and yamux. A node's ID is its libp2p
// peer ID string. An allow-list connection gater admits cluster members and a
// bounded number of "pending" peers that are still running the join
// handshake, and refuses denied peers (nodes removed from the cluster) in
// both directions.
package p2p
