package node

import (
	"context"
	"crypto/ed25519"
	"crypto/subtle"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
)

// joinMember is what the join server needs from its node: its peer ID,
// where a peer connects from, whether a peer ID was removed for good, one
// view of the cluster record and nodes, and a way to admit a node (commit
// its record and wait until the voter set may have grown, see
// awaitVoterGrowth).
type joinMember interface {
	peerID() peer.ID
	remoteIP(id peer.ID) string
	denied(peerID string) bool
	clusterView() (*api.Cluster, []*api.Node, bool)
	admit(ctx context.Context, n api.Node) error
}

// joinServer answers joiners on every node.
type joinServer struct {
	member joinMember
	log    *slog.Logger
	mu     sync.Mutex
	// failures limits failed proofs per remote IP, and overall.
	perIP  map[string]*rate.Limiter
	global *rate.Limiter
}

func newJoinServer(m joinMember, log *slog.Logger) *joinServer {
	return &joinServer{member: m, log: log, perIP: map[string]*rate.Limiter{}, global: rate.NewLimiter(rate.Every(time.Second), 20)}
}

// limiter is the failure limiter for one remote IP.
func (s *joinServer) limiter(ip string) *rate.Limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.perIP[ip]
	if !ok {
		if len(s.perIP) > 4096 {
			s.perIP = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Every(2*time.Second), 5)
		s.perIP[ip] = l
	}
	return l
}

func (s *joinServer) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(joinTimeout))
	joinerID, err := peer.Decode(c.RemoteAddr().String())
	if err != nil {
		return
	}
	ipLimiter := s.limiter(s.member.remoteIP(joinerID))
	var hello joinHello
	if err := p2p.ReadFrame(c, &hello, 4<<10); err != nil || len(hello.Nonce) != 32 {
		return
	}
	refuse := func(e *api.Error) { p2p.WriteFrame(c, joinChallenge{Error: e}) }
	if s.member.denied(joinerID.String()) {
		// The gater refuses denied peers before any protocol; this
		// covers a connection opened before the removal applied.
		s.log.Warn("join refused: the node was removed from the cluster (denied)", "node_id", api.ShortID(joinerID.String()), "from", s.member.remoteIP(joinerID))
		refuse(errJoinDenied(joinerID))
		return
	}
	if ipLimiter.Tokens() < 1 || s.global.Tokens() < 1 {
		refuse(api.Errorf(api.CodeRateLimited, "too many failed join attempts; try again later"))
		return
	}
	cluster, _, ok := s.member.clusterView()
	if !ok || len(cluster.SigningKey) != ed25519.PrivateKeySize {
		refuse(api.Errorf(api.CodeUnavailable, "this node has not synced the cluster state yet; try again"))
		return
	}
	key := ed25519.PrivateKey(cluster.SigningKey)
	nonceM := nonce()
	sig := ed25519.Sign(key, challengeMessage(s.member.peerID(), joinerID, hello.Nonce, nonceM))
	if err := p2p.WriteFrame(c, joinChallenge{ClusterID: cluster.ID, ClusterKey: key.Public().(ed25519.PublicKey), Nonce: nonceM, Sig: sig}); err != nil {
		return
	}
	var proof joinProof
	if err := p2p.ReadFrame(c, &proof, 64<<10); err != nil {
		return
	}
	want := joinProofMAC(cluster.JoinSecretHash, joinerID, s.member.peerID(), nonceM, hello.Nonce)
	if subtle.ConstantTimeCompare(want, proof.Proof) != 1 {
		ipLimiter.Allow()
		s.global.Allow()
		s.log.Warn("join refused: wrong or rotated token", "node", proof.Node.Name, "from", s.member.remoteIP(joinerID))
		p2p.WriteFrame(c, joinAccept{Error: api.Errorf(api.CodeUnauthorized, "join token rejected: it is wrong, or it was rotated")})
		return
	}
	n := proof.Node
	n.ID = joinerID.String()
	if err := validName(n.Name); err != nil {
		p2p.WriteFrame(c, joinAccept{Error: api.Errorf(api.CodeInvalid, "%v", err)})
		return
	}
	// The node record is taken as the joiner states it (addresses
	// included, unchanged) except for its ID, which is the peer ID its
	// connection authenticated, and its status and availability.
	n.Status, n.Availability = api.NodeReady, api.AvailabilityActive
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout-2*time.Second)
	defer cancel()
	if err := s.member.admit(ctx, n); err != nil {
		e := &api.Error{Code: api.CodeOf(err), Message: err.Error()}
		p2p.WriteFrame(c, joinAccept{Error: e})
		return
	}
	s.log.Info("join admitted", "node", n.Name, "node_id", api.ShortID(n.ID))
	_, nodes, _ := s.member.clusterView()
	p2p.WriteFrame(c, joinAccept{ClusterID: cluster.ID, GossipKey: cluster.GossipKey, Members: peerRecordsOf(nodes)})
}

// errJoinDenied refuses a joiner whose peer ID is denied.
func errJoinDenied(id peer.ID) *api.Error {
	return api.Errorf(api.CodeForbidden, "this node (peer ID %s) was removed from the cluster and may not join again; "+
		"start it with an empty data dir to join as a new node", id)
}

// peerID is this node's libp2p identity.
func (a *Agent) peerID() peer.ID { return a.host.ID() }

// remoteIP is the IP address peer id connects from.
func (a *Agent) remoteIP(id peer.ID) string { return remoteIP(a.host, id) }

// clusterView reads the cluster record and the nodes from one view.
func (a *Agent) clusterView() (*api.Cluster, []*api.Node, bool) {
	v := a.store().View()
	c, ok := v.Cluster()
	return c, v.Nodes(), ok
}

// admit commits a joiner's node record, then, on the leader, waits until
// the voter set may have grown (awaitVoterGrowth).
func (a *Agent) admit(ctx context.Context, n api.Node) error {
	if _, err := a.submitPayload(ctx, api.CmdRegisterNode, "", api.RegisterNodePayload{Node: n}); err != nil {
		return err
	}
	a.awaitVoterGrowth(ctx)
	return nil
}
