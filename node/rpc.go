package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"
)

// rpcProtocol carries node-to-node requests: forwarded writes, leader
// discovery, read-index checks, status probes, operator requests and image
// removal.
const rpcProtocol = "/shoal/rpc/1"

// rpcMethod names one request of rpcProtocol. The names are part of the
// wire protocol between builds: never rename one.
type rpcMethod string

const (
	// rpcPropose asks the leader to commit a command (proposeReply).
	rpcPropose rpcMethod = "propose"
	// rpcLeader asks a member whom it knows as leader (leaderReply).
	rpcLeader rpcMethod = "leader"
	// rpcReadIndex asks the leader for a verified read index.
	rpcReadIndex rpcMethod = "readIndex"
	// rpcStatus asks a node for its applied index; the only method a
	// node serves while it starts.
	rpcStatus rpcMethod = "status"
	// rpcRaftPeers asks the leader for the Raft configuration.
	rpcRaftPeers rpcMethod = "raftPeers"
	// rpcTransferLeadership asks the leader to hand leadership over.
	rpcTransferLeadership rpcMethod = "transferLeadership"
	// rpcRemoveImage asks a node to remove an image it holds.
	rpcRemoveImage rpcMethod = "removeImage"
	// rpcSecret asks the leader for a secret's plaintext for one of the
	// sender's tasks (secretRequest, secretReply).
	rpcSecret rpcMethod = "secret"
	// rpcRotateKeys asks the leader to rotate the cluster's keys
	// (rotateRequest, api.RotateKeysResult).
	rpcRotateKeys rpcMethod = "rotateKeys"
)

// call sends one node RPC to peer to.
func (a *Agent) call(ctx context.Context, to peer.ID, m rpcMethod, req, resp any) error {
	return a.host.Call(ctx, to, rpcProtocol, string(m), req, resp)
}
