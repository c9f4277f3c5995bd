package node

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/fsutil"
)

// bootstrap creates a new cluster with this node as its only voter.
func (a *Agent) bootstrap(self api.Node) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	idBytes := make([]byte, 12)
	rand.Read(idBytes)
	gossipKey := make([]byte, 32)
	rand.Read(gossipKey)
	cluster := api.Cluster{ID: hex.EncodeToString(idBytes), SigningKey: priv, TokenNonce: nonce(), GossipKey: gossipKey,
		CIDR: cmp.Or(a.cfg.ClusterCIDR, api.DefaultClusterCIDR), ServiceCIDR: cmp.Or(a.cfg.ServiceCIDR, api.DefaultServiceCIDR)}
	digest := ClusterDigest(pub)
	a.state = &localState{ClusterID: cluster.ID, ClusterDigest: digest[:], GossipKey: gossipKey,
		Peers: []peerRecord{{ID: self.ID, Name: self.Name, P2PAddr: self.P2PAddr, GossipAddr: self.GossipAddr}}}
	if err := a.cons.BootstrapSelf(); err != nil {
		return fmt.Errorf("raft bootstrap: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !a.cons.IsLeader() {
		if time.Now().After(deadline) {
			return errors.New("bootstrap: this node did not become leader of its own cluster within 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	if _, err := a.submitPayload(ctx, api.CmdBootstrap, "", api.BootstrapPayload{Cluster: cluster, Node: self}); err != nil {
		return fmt.Errorf("bootstrap: %v", err)
	}
	if err := a.state.save(a.cfg.DataDir); err != nil {
		return err
	}
	adminFile, err := a.createBootstrapAdminToken(ctx)
	if err != nil {
		return err
	}
	c, _ := a.store().Cluster()
	a.bootstrapToken = tokenFor(c).String()
	// The join token is not printed: the agent's output goes to logs (the
	// journal), and the token admits nodes. `shoal token show` prints it.
	fmt.Fprintf(a.out, "Cluster %s created; this node (%s) is its leader.\nTo add a node, get the join token with `shoal token show` on this host, then run on the other host:\n\n"+
		"    SHOAL_JOIN_TOKEN=<token> shoal agent --join %s\n\n"+
		"An admin API token for the HTTPS API (--api-addr) is in %s (mode 0600); keep it elsewhere and delete the file.\n\n",
		cluster.ID, self.Name, net.JoinHostPort(a.advertiseIP, portOf(a.host.Addr())), adminFile)
	return nil
}

// bootstrapAdminFile is where bootstrap leaves the first admin API token.
const bootstrapAdminFile = "admin.token"

// createBootstrapAdminToken creates the cluster's first API token, named
// bootstrap-admin, and writes its secret into the data dir with mode
// 0600 (the file is written first: a token whose secret nobody holds is
// never created).
func (a *Agent) createBootstrapAdminToken(ctx context.Context) (string, error) {
	secret := api.NewAPIToken()
	path := filepath.Join(a.cfg.DataDir, bootstrapAdminFile)
	if err := fsutil.WriteFile(path, []byte(secret+"\n"), 0o600, true); err != nil {
		return "", fmt.Errorf("bootstrap admin token: %v", err)
	}
	if _, err := a.submitPayload(ctx, api.CmdCreateACLToken, "", api.CreateACLTokenPayload{
		Name: "bootstrap-admin", Role: api.ACLAdmin, SecretHash: api.SecretHash(secret)}); err != nil {
		return "", fmt.Errorf("bootstrap admin token: %v", err)
	}
	return path, nil
}

// selfNode describes this node for registration.
func (a *Agent) selfNode() api.Node {
	labels := map[string]string{}
	for k, v := range a.cfg.Labels {
		labels[k] = v
	}
	gport := a.cfg.GossipPort
	return api.Node{
		ID:           a.host.ID().String(),
		Name:         a.cfg.Name,
		P2PAddr:      net.JoinHostPort(a.advertiseIP, portOf(a.host.Addr())),
		GossipAddr:   net.JoinHostPort(a.advertiseIP, fmt.Sprint(gport)),
		APIAddr:      a.api.addr(),
		Labels:       labels,
		Resources:    a.resources,
		Runtimes:     append([]string(nil), a.runtimeNames...),
		Status:       api.NodeReady,
		Availability: api.AvailabilityActive,
		Protocol:     api.ProtocolVersion,
	}
}
