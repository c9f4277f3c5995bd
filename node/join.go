package node

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/ctxutil"
	"github.com/shoal-project/shoal/p2p"
)

// The join handshake runs on its own protocol, the only one a peer that is
// not yet a member may open (the gater admits such peers for a short,
// rate-limited window). Both sides authenticate:
//
//  1. joiner → member: hello{nonceJ}
//  2. member → joiner: challenge{clusterID, clusterPub, nonceM, sig}, where
//     sig signs (memberID, joinerID, nonceJ, nonceM) with the cluster key.
//     The joiner checks SHA-256(clusterPub) against the token's digest and
//     the signature against the member's Noise-authenticated peer ID, so a
//     man in the middle can neither pose as the cluster nor relay it.
//  3. joiner → member: proof{HMAC(SHA-256(secret), joinerID, memberID,
//     nonceM, nonceJ), node}. The member compares it in constant time with
//     what it computes from the stored secret hash.
//  4. member → joiner: accept{clusterID, gossipKey, members} once the node
//     is committed to the replicated state, or an error.
const joinProtocol = "/shoal/join/1"

const joinTimeout = 20 * time.Second

type joinHello struct {
	Nonce []byte `json:"nonce"`
}

type joinChallenge struct {
	ClusterID  string     `json:"cluster_id"`
	ClusterKey []byte     `json:"cluster_key"`
	Nonce      []byte     `json:"nonce"`
	Sig        []byte     `json:"sig"`
	Error      *api.Error `json:"error,omitempty"`
}

type joinProof struct {
	Proof []byte   `json:"proof"`
	Node  api.Node `json:"node"`
}

type joinAccept struct {
	ClusterID string       `json:"cluster_id"`
	GossipKey []byte       `json:"gossip_key"`
	Members   []peerRecord `json:"members"`
	Error     *api.Error   `json:"error,omitempty"`
}

func challengeMessage(memberID, joinerID peer.ID, nonceJ, nonceM []byte) []byte {
	return concat("shoal join member v1", string(memberID), string(joinerID), string(nonceJ), string(nonceM))
}

func joinProofMAC(secretHash []byte, joinerID, memberID peer.ID, nonceM, nonceJ []byte) []byte {
	m := hmac.New(sha256.New, secretHash)
	m.Write(concat("shoal join proof v1", string(joinerID), string(memberID), string(nonceM), string(nonceJ)))
	return m.Sum(nil)
}

func concat(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, byte(len(p)>>8), byte(len(p)))
		b = append(b, p...)
	}
	return b
}

func nonce() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the kernel's RNG does not fail
	}
	return b
}

// joinResult is what a successful join hands the agent.
type joinResult struct {
	ClusterID string
	Digest    [sha256.Size]byte
	GossipKey []byte
	Members   []peerRecord
}

// ErrJoinRefused marks a join the cluster refused (wrong token and the like);
// the agent exits 1 on it rather than retrying.
var ErrJoinRefused = errors.New("join refused")

// joinRetryFor is how long a joiner keeps trying a member that does not
// answer the handshake (busy, rate-limiting unknown peers, electing a
// leader) before it gives up; a refusal (wrong token, name taken) ends it
// at once.
const joinRetryFor = 30 * time.Second

// joinWithRetry runs joinCluster until it succeeds, is refused, or
// joinRetryFor has passed, backing off from 250 ms to 2 s.
func (a *Agent) joinWithRetry(addr string, tok JoinToken, self api.Node) (*joinResult, error) {
	deadline := time.Now().Add(joinRetryFor)
	wait := 250 * time.Millisecond
	for {
		res, err := joinCluster(a.ctx, a.host, a.key, addr, tok, self)
		if err == nil || errors.Is(err, ErrJoinRefused) || a.ctx.Err() != nil || time.Now().Add(wait).After(deadline) {
			return res, err
		}
		a.log.Warn("join failed; retrying", "through", addr, "in", wait, "err", err)
		if ctxutil.Sleep(a.ctx, wait) != nil {
			return nil, err
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// joinCluster runs the joiner's side against the member at addr.
func joinCluster(ctx context.Context, host *p2p.Host, key crypto.PrivKey, addr string, tok JoinToken, self api.Node) (*joinResult, error) {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	memberID, err := p2p.ProbePeerID(ctx, key, addr)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	host.Gater().AllowOutbound(memberID)
	if err := host.SetPeerAddr(memberID, addr); err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	conn, err := host.Dial(ctx, memberID, joinProtocol)
	if err != nil && ctx.Err() == nil {
		// The member answered the probe's handshake, then refused the
		// connection: its gater admits no more joiners for now, or it
		// denies this node's peer ID.
		return nil, fmt.Errorf("join %s: %w: the member refused this node's connection after the handshake; "+
			"if this lasts, this node's peer ID was removed from the cluster (shoal node rm denies it for good), "+
			"and an empty data dir joins as a new node", addr, err)
	}
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	nonceJ := nonce()
	if err := p2p.WriteFrame(conn, joinHello{Nonce: nonceJ}); err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	var ch joinChallenge
	if err := p2p.ReadFrame(conn, &ch, 64<<10); err != nil {
		return nil, fmt.Errorf("join %s: no answer to the handshake: %w", addr, err)
	}
	if ch.Error != nil {
		return nil, fmt.Errorf("%w: %s", ErrJoinRefused, ch.Error.Message)
	}
	if len(ch.ClusterKey) != ed25519.PublicKeySize || ClusterDigest(ch.ClusterKey) != tok.Digest {
		return nil, fmt.Errorf("%w: %s does not belong to the cluster this token is for (cluster digest mismatch)", ErrJoinRefused, addr)
	}
	if !ed25519.Verify(ch.ClusterKey, challengeMessage(memberID, host.ID(), nonceJ, ch.Nonce), ch.Sig) {
		return nil, fmt.Errorf("%w: %s failed to prove it holds the cluster key", ErrJoinRefused, addr)
	}
	// The member proved it holds the cluster key: let it (when it leads)
	// reach this node's Raft and RPC while the join is being answered, so
	// it can make this node a voter at once.
	host.Gater().AddMember(memberID)
	secretHash := sha256.Sum256(tok.Secret[:])
	proof := joinProof{Proof: joinProofMAC(secretHash[:], host.ID(), memberID, ch.Nonce, nonceJ), Node: self}
	if err := p2p.WriteFrame(conn, proof); err != nil {
		return nil, fmt.Errorf("join %s: %w", addr, err)
	}
	var acc joinAccept
	if err := p2p.ReadFrame(conn, &acc, 4<<20); err != nil {
		return nil, fmt.Errorf("join %s: no answer to the proof: %w", addr, err)
	}
	if acc.Error != nil {
		if acc.Error.Code == api.CodeUnauthorized || acc.Error.Code == api.CodeConflict || acc.Error.Code == api.CodeRateLimited || acc.Error.Code == api.CodeInvalid {
			return nil, fmt.Errorf("%w: %s", ErrJoinRefused, acc.Error.Message)
		}
		return nil, fmt.Errorf("join %s: %s", addr, acc.Error.Message)
	}
	return &joinResult{ClusterID: acc.ClusterID, Digest: tok.Digest, GossipKey: acc.GossipKey, Members: acc.Members}, nil
}
