package node

import (
	"net/http"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/gossip"
)

// Fault injection (agent flag --fault-injection, for chaos tests only)
// cuts this node off from named peers without root: the libp2p gater
// refuses them and drops their connections, and the gossip transport
// drops their packets and streams. Applied on both sides, it is a
// partition; applied on one side with outbound_only, a one-way cut.

// FaultRequest is the body of POST /v1/debug/faults.
type FaultRequest struct {
	// Block cuts this node off from the named nodes.
	Block []string `json:"block,omitempty"`
	// OutboundOnly makes Block cut only what this node sends over gossip.
	OutboundOnly bool `json:"outbound_only,omitempty"`
	// Heal removes every cut.
	Heal bool `json:"heal,omitempty"`
}

// faultState is this node's fault-injection machinery.
type faultState struct {
	transport *gossip.FaultTransport
	blocked   map[string]string // node ID → gossip addr
}

func (s *apiServer) routeFaults() {
	s.route("POST /v1/debug/faults", api.ACLAdmin, s.injectFault)
}

func (s *apiServer) injectFault(r *http.Request) (any, error) {
	if !s.backend.faultInjection() {
		return nil, api.Errorf(api.CodeNotFound, "fault injection is off (start the agent with --fault-injection)")
	}
	var req FaultRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	return s.backend.injectFault(req)
}

// injectFault applies a fault request (--fault-injection must be on) and
// returns the nodes now blocked.
func (a *Agent) injectFault(req FaultRequest) (map[string][]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v := a.store().View()
	if req.Heal {
		for id, addr := range a.faults.blocked {
			if pid, err := peer.Decode(id); err == nil {
				a.host.Gater().Unblock(pid)
			}
			a.faults.transport.Unblock(addr)
		}
		a.faults.blocked = map[string]string{}
	}
	for _, name := range req.Block {
		n, ok := v.NodeByName(name)
		if !ok {
			return nil, api.Errorf(api.CodeNotFound, "no such node: %s", name)
		}
		addr := n.GossipAddr
		for _, m := range a.gossip.Members() {
			if m.Meta.NodeID == n.ID {
				addr = m.Addr
			}
		}
		a.faults.blocked[n.ID] = addr
		if req.OutboundOnly {
			a.faults.transport.BlockOutbound(addr)
			continue
		}
		a.faults.transport.Block(addr)
		if pid, err := peer.Decode(n.ID); err == nil {
			a.host.Gater().Block(pid)
			a.host.Disconnect(pid)
		}
	}
	names := []string{}
	for id := range a.faults.blocked {
		if n, ok := v.Node(id); ok {
			names = append(names, n.Name)
		}
	}
	return map[string][]string{"blocked": names}, nil
}
