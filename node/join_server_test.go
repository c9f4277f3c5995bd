package node

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
	"github.com/shoal-project/shoal/state"
)

// fakeJoinMember is a joinMember over a fixed cluster record that records
// the nodes it admits.
type fakeJoinMember struct {
	id       peer.ID
	cluster  *api.Cluster
	admitted []api.Node
	refuse   error
	deny     map[string]bool
}

func (m *fakeJoinMember) peerID() peer.ID         { return m.id }
func (m *fakeJoinMember) remoteIP(peer.ID) string { return "192.0.2.1" }
func (m *fakeJoinMember) denied(id string) bool   { return m.deny[id] }
func (m *fakeJoinMember) clusterView() (*api.Cluster, []*api.Node, bool) {
	if m.cluster == nil {
		return nil, nil, false
	}
	nodes := []*api.Node{{ID: m.id.String(), Name: "member"}}
	for i := range m.admitted {
		nodes = append(nodes, &m.admitted[i])
	}
	return m.cluster, nodes, true
}
func (m *fakeJoinMember) admit(_ context.Context, n api.Node) error {
	if m.refuse != nil {
		return m.refuse
	}
	m.admitted = append(m.admitted, n)
	return nil
}

// peerConn is a pipe end whose remote address is a peer ID, as libp2p
// streams present it.
type peerConn struct {
	net.Conn
	remote peer.ID
}

type peerAddr string

func (a peerAddr) Network() string      { return "libp2p" }
func (a peerAddr) String() string       { return string(a) }
func (c peerConn) RemoteAddr() net.Addr { return peerAddr(c.remote.String()) }

func joinTestCluster() *api.Cluster {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	nonce := []byte("nonce-1")
	return &api.Cluster{ID: "c1", SigningKey: key, TokenNonce: nonce, GossipKey: make([]byte, 32),
		JoinSecretHash: state.JoinSecretHash(key, nonce)}
}

// playJoiner runs the joiner's side of the handshake over c with token tok
// and returns the member's answer to the proof (or the challenge's error).
func playJoiner(t *testing.T, c net.Conn, joiner, member peer.ID, tok JoinToken, name string) (joinAccept, error) {
	t.Helper()
	nonceJ := nonce()
	if err := p2p.WriteFrame(c, joinHello{Nonce: nonceJ}); err != nil {
		return joinAccept{}, err
	}
	var ch joinChallenge
	if err := p2p.ReadFrame(c, &ch, 64<<10); err != nil {
		return joinAccept{}, err
	}
	if ch.Error != nil {
		return joinAccept{Error: ch.Error}, nil
	}
	if ClusterDigest(ch.ClusterKey) != tok.Digest {
		return joinAccept{}, errors.New("cluster digest mismatch")
	}
	if !ed25519.Verify(ch.ClusterKey, challengeMessage(member, joiner, nonceJ, ch.Nonce), ch.Sig) {
		return joinAccept{}, errors.New("bad challenge signature")
	}
	secretHash := sha256.Sum256(tok.Secret[:])
	proof := joinProof{Proof: joinProofMAC(secretHash[:], joiner, member, ch.Nonce, nonceJ), Node: api.Node{ID: "forged", Name: name, Status: api.NodeDown}}
	if err := p2p.WriteFrame(c, proof); err != nil {
		return joinAccept{}, err
	}
	var acc joinAccept
	err := p2p.ReadFrame(c, &acc, 4<<20)
	return acc, err
}

func joinOnce(t *testing.T, s *joinServer, joiner peer.ID, tok JoinToken, name string) joinAccept {
	t.Helper()
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() { defer close(done); s.handle(peerConn{server, joiner}) }()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	acc, err := playJoiner(t, client, joiner, s.member.peerID(), tok, name)
	client.Close()
	<-done
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return acc
}

// TestJoinServerAdmitsAValidTokenAsItsPeerID checks that a joiner with the
// current token is admitted under the peer ID its connection proved (not
// the ID it claims), ready and active, and gets the gossip key and members.
func TestJoinServerAdmitsAValidTokenAsItsPeerID(t *testing.T) {
	member := &fakeJoinMember{id: peer.ID(testPeerIDRaw(t, 1)), cluster: joinTestCluster()}
	s := newJoinServer(member, slog.New(slog.NewTextHandler(io.Discard, nil)))
	joiner := peer.ID(testPeerIDRaw(t, 2))
	acc := joinOnce(t, s, joiner, tokenFor(member.cluster), "n2")
	if acc.Error != nil {
		t.Fatalf("refused: %v", acc.Error)
	}
	if len(member.admitted) != 1 {
		t.Fatalf("admitted %d nodes, want 1", len(member.admitted))
	}
	n := member.admitted[0]
	if n.ID != joiner.String() || n.Name != "n2" || n.Status != api.NodeReady || n.Availability != api.AvailabilityActive {
		t.Fatalf("admitted %+v, want ID %s, name n2, ready and active", n, joiner)
	}
	if acc.ClusterID != "c1" || len(acc.GossipKey) != 32 || len(acc.Members) != 2 {
		t.Fatalf("accept %+v, want cluster c1, the gossip key and 2 members", acc)
	}
}

// TestJoinServerRefusesAWrongTokenAndRateLimits checks that a wrong secret
// is refused as unauthorized without admitting anything, that repeated
// failures from one address are rate limited, and that a member without
// the cluster state asks the joiner to retry.
func TestJoinServerRefusesAWrongTokenAndRateLimits(t *testing.T) {
	member := &fakeJoinMember{id: peer.ID(testPeerIDRaw(t, 1)), cluster: joinTestCluster()}
	s := newJoinServer(member, slog.New(slog.NewTextHandler(io.Discard, nil)))
	joiner := peer.ID(testPeerIDRaw(t, 2))
	wrong := tokenFor(member.cluster)
	wrong.Secret[0] ^= 1
	var codes []api.ErrorCode
	for range 7 {
		acc := joinOnce(t, s, joiner, wrong, "n2")
		if acc.Error == nil {
			t.Fatal("a wrong token was accepted")
		}
		codes = append(codes, acc.Error.Code)
	}
	if len(member.admitted) != 0 {
		t.Fatalf("admitted %d nodes with a wrong token", len(member.admitted))
	}
	if codes[0] != api.CodeUnauthorized || codes[len(codes)-1] != api.CodeRateLimited {
		t.Fatalf("codes %v, want unauthorized first and rate limited after repeated failures", codes)
	}
	// A right token from the same address is limited too, until the
	// limiter refills: the limit is per address, not per token.
	if acc := joinOnce(t, s, joiner, tokenFor(member.cluster), "n2"); acc.Error == nil || acc.Error.Code != api.CodeRateLimited {
		t.Fatalf("right token during the limit: %+v", acc.Error)
	}

	empty := newJoinServer(&fakeJoinMember{id: member.id}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if acc := joinOnce(t, empty, joiner, tokenFor(member.cluster), "n2"); acc.Error == nil || acc.Error.Code != api.CodeUnavailable {
		t.Fatalf("member without cluster state answered %+v, want unavailable", acc.Error)
	}
}

// TestJoinServerRefusesABadName checks a joiner with an invalid node name
// is refused with a clear error and not admitted.
func TestJoinServerRefusesABadName(t *testing.T) {
	member := &fakeJoinMember{id: peer.ID(testPeerIDRaw(t, 1)), cluster: joinTestCluster()}
	s := newJoinServer(member, slog.New(slog.NewTextHandler(io.Discard, nil)))
	acc := joinOnce(t, s, peer.ID(testPeerIDRaw(t, 2)), tokenFor(member.cluster), "bad name!")
	if acc.Error == nil || acc.Error.Code != api.CodeInvalid || len(member.admitted) != 0 {
		t.Fatalf("bad name: %+v, admitted %d", acc.Error, len(member.admitted))
	}
}

// TestJoinServerRefusesADeniedPeer checks that a joiner whose peer ID was
// removed from the cluster is refused with an error that says so, before
// the token is even checked, and is not admitted.
func TestJoinServerRefusesADeniedPeer(t *testing.T) {
	joiner := peer.ID(testPeerIDRaw(t, 2))
	member := &fakeJoinMember{id: peer.ID(testPeerIDRaw(t, 1)), cluster: joinTestCluster(), deny: map[string]bool{joiner.String(): true}}
	s := newJoinServer(member, slog.New(slog.NewTextHandler(io.Discard, nil)))
	acc := joinOnce(t, s, joiner, tokenFor(member.cluster), "n2")
	if acc.Error == nil || acc.Error.Code != api.CodeForbidden || !strings.Contains(acc.Error.Message, "was removed from the cluster") || len(member.admitted) != 0 {
		t.Fatalf("denied joiner: %+v, admitted %d", acc.Error, len(member.admitted))
	}
	if acc := joinOnce(t, s, peer.ID(testPeerIDRaw(t, 3)), tokenFor(member.cluster), "n3"); acc.Error != nil {
		t.Fatalf("a joiner that is not denied was refused: %v", acc.Error)
	}
}

func testPeerIDRaw(t *testing.T, seed byte) string {
	id, err := peer.Decode(testPeerID(t, seed))
	if err != nil {
		t.Fatal(err)
	}
	return string(id)
}
