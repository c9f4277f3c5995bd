package node

import (
	"context"
	"io"
	"net"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
)

// This file exports the pieces of the node protocol a simulated member
// needs (node/simnode, used by the scale benchmark): the join handshake,
// the state feed's protocol and frames, and the node RPC's protocol and
// replies. They are the very code and types the agent uses, so a
// simulated member speaks exactly what a real one does.

// Protocols and limits of the node protocol.
const (
	// RPCProtocol carries node-to-node requests ("propose", "leader", ...).
	RPCProtocol = rpcProtocol
	// FeedProtocol streams the leader's applied entries to plain members
	// in JSON frames (builds before feed/2).
	FeedProtocol = feedProtocol
	// FeedProtocol2 streams them in binary frames (ReadFeedFrame).
	FeedProtocol2 = feedProtocol2
	// MaxFeedFrame is the largest state-feed frame a member reads.
	MaxFeedFrame = maxFeedFrame
)

// FeedRequest opens a state feed: the member's applied index.
type FeedRequest = feedRequest

// FeedFrame is one frame of the state feed.
type FeedFrame = feedFrame

// FeedFrame2 is one decoded feed/2 frame: its header (leader, term, error,
// snapshot chunk), the entries (Data) and the snapshot chunk's bytes.
type FeedFrame2 = feedFrame2

// SnapshotChunk describes one chunk of a snapshot image in a feed/2 frame.
type SnapshotChunk = snapshotChunk

// ReadFeedFrame reads one feed/2 frame of at most max bytes.
func ReadFeedFrame(r io.Reader, max int) (*FeedFrame2, error) { return readFeedFrame(r, max) }

// ReadFeedFrameInto reads one feed/2 frame into *buf, which it keeps for
// the next frame: what the frame holds is only good until then. A
// thousand simulated members reading fresh buffers of up to 1 MiB each
// frame kept the simulator's heap growing into untouched pages.
func ReadFeedFrameInto(r io.Reader, max int, buf *[]byte) (*FeedFrame2, error) {
	return readFeedFrameInto(r, max, buf)
}

// NewFeedReader returns a reader of a feed stream that fails after the
// feed's idle timeout of silence, as a member reads it.
func NewFeedReader(c net.Conn) io.Reader { return newIdleReader(c, feedIdleTimeout) }

// UnpackFeedData decompresses an entry's data or an assembled snapshot
// image of a frame with codec.
func UnpackFeedData(codec string, data []byte) ([]byte, error) { return unpackImage(codec, data) }

// LeaderReply answers the "leader" RPC.
type LeaderReply = leaderReply

// ProposeReply answers the "propose" RPC.
type ProposeReply = proposeReply

// PeerRecord is a member as the join answer lists it.
type PeerRecord = peerRecord

// JoinResult is what a successful join hands the joiner.
type JoinResult struct {
	ClusterID string
	GossipKey []byte
	Members   []PeerRecord
}

// JoinCluster runs the joiner's side of the join handshake (protocol
// /shoal/join/1) against the member at addr, as `shoal agent --join` does:
// the member commits self (its ID replaced by host's peer ID) before it
// answers.
func JoinCluster(ctx context.Context, host *p2p.Host, key crypto.PrivKey, addr string, tok JoinToken, self api.Node) (*JoinResult, error) {
	res, err := joinCluster(ctx, host, key, addr, tok, self)
	if err != nil {
		return nil, err
	}
	return &JoinResult{ClusterID: res.ClusterID, GossipKey: res.GossipKey, Members: res.Members}, nil
}
