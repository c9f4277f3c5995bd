package p2p

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// RaftProtocol is the stream protocol carrying Raft traffic.
const RaftProtocol protocol.ID = "/shoal/raft/1"

// raftDialTimeout is used when raft passes no dial timeout.
const raftDialTimeout = 10 * time.Second

// RaftStreamLayer is a raft.StreamLayer over libp2p streams. A
// raft.ServerAddress is a peer ID string. Only members may connect.
type RaftStreamLayer struct {
	net.Listener
	h *Host
}

var _ raft.StreamLayer = (*RaftStreamLayer)(nil)

// NewRaftStreamLayer listens for Raft streams on h.
func NewRaftStreamLayer(h *Host) (*RaftStreamLayer, error) {
	l, err := h.Listen(RaftProtocol, true)
	if err != nil {
		return nil, fmt.Errorf("raft stream layer: %w", err)
	}
	return &RaftStreamLayer{Listener: l, h: h}, nil
}

// Dial opens a Raft stream to the peer whose ID is address and protects
// that peer in the connection manager.
func (r *RaftStreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	id, err := peer.Decode(string(address))
	if err != nil {
		return nil, fmt.Errorf("raft address %q is not a peer ID: %w", address, err)
	}
	if timeout <= 0 {
		timeout = raftDialTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r.h.Protect(id, "raft")
	return r.h.Dial(ctx, id, RaftProtocol)
}
