package state

import (
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// validateNewNode checks a node record from a payload and fills defaults.
func validateNewNode(n *api.Node) *api.Error {
	switch {
	case n.ID == "":
		return api.Errorf(api.CodeInvalid, "node id is empty")
	case n.Name == "":
		return api.Errorf(api.CodeInvalid, "node %s has an empty name", n.ID)
	case n.Resources.NanoCPUs < 0 || n.Resources.MemoryBytes < 0:
		return api.Errorf(api.CodeInvalid, "node %s has negative resources", n.ID)
	}
	if n.Availability == "" {
		n.Availability = api.AvailabilityActive
	}
	if !validAvailability(n.Availability) {
		return api.Errorf(api.CodeInvalid, "node %s: unknown availability %q", n.ID, n.Availability)
	}
	for k := range n.Labels {
		if k == "" {
			return api.Errorf(api.CodeInvalid, "node %s has a label with an empty key", n.ID)
		}
	}
	return nil
}

func validAvailability(a api.Availability) bool {
	switch a {
	case api.AvailabilityActive, api.AvailabilityPause, api.AvailabilityDrain:
		return true
	}
	return false
}

// cloneNode deep-copies a node so the FSM can change it.
func cloneNode(n *api.Node) *api.Node {
	c := *n
	c.Labels = maps.Clone(n.Labels)
	c.Runtimes = slices.Clone(n.Runtimes)
	return &c
}

// nodeTxn returns the node with id from a write transaction.
func nodeTxn(txn *memdb.Txn, id string) (*api.Node, bool) {
	return first[api.Node](txn, tableNodes, indexID, id)
}

func (f *FSM) applyRegisterNode(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RegisterNodePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	n := p.Node
	if err := validateNewNode(&n); err != nil {
		return nil, err
	}
	if other, ok := first[api.Node](txn, tableNodes, indexName, n.Name); ok && other.ID != n.ID {
		if other.Status != api.NodeDown {
			return nil, api.Errorf(api.CodeConflict, "node name %q is taken by node %s, which is not down", n.Name, other.ID)
		}
		if err := remove(txn, tableNodes, other); err != nil {
			return nil, err
		}
	}
	old, known := nodeTxn(txn, n.ID)
	if err := assignSubnet(txn, &n, old); err != nil {
		return nil, err
	}
	if known {
		c := cloneNode(old)
		c.Name = n.Name
		c.P2PAddr, c.GossipAddr, c.APIAddr = n.P2PAddr, n.GossipAddr, n.APIAddr
		c.Resources = n.Resources
		c.Runtimes = n.Runtimes
		// Labels from the node's own config overlay the stored ones, so
		// labels an operator added with node update survive a restart;
		// where both set a key, the operator's value wins.
		if len(n.Labels) > 0 && c.Labels == nil {
			c.Labels = map[string]string{}
		}
		maps.Copy(c.Labels, n.Labels)
		maps.Copy(c.Labels, c.OperatorLabels)
		c.Protocol, c.Subnet = n.Protocol, n.Subnet
		c.Status, c.UpdatedAt, c.RestartBy = api.NodeReady, cmd.Time, time.Time{}
		n = *c
	} else {
		n.Status, n.JoinedAt, n.UpdatedAt = api.NodeReady, cmd.Time, cmd.Time
		n.OperatorLabels = nil // only node update sets them
	}
	if err := insert(txn, tableNodes, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

func (f *FSM) applySetNodeStatus(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.SetNodeStatusPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if p.Status != api.NodeReady && p.Status != api.NodeDown {
		return nil, api.Errorf(api.CodeInvalid, "set node status: unknown status %q", p.Status)
	}
	old, ok := nodeTxn(txn, p.NodeID)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "node %q not found", p.NodeID)
	}
	if old.Status == p.Status {
		return old, nil
	}
	n := cloneNode(old)
	n.Status, n.UpdatedAt, n.RestartBy = p.Status, cmd.Time, time.Time{}
	if err := insert(txn, tableNodes, n); err != nil {
		return nil, err
	}
	return n, nil
}

// applyNodeRestarting marks a node restarting until the command time plus
// its grace. Only a node that is not down can announce a restart.
func (f *FSM) applyNodeRestarting(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.NodeRestartingPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if p.Grace <= 0 || p.Grace > 24*time.Hour {
		return nil, api.Errorf(api.CodeInvalid, "node restarting: grace %s is not within (0, 24h]", p.Grace)
	}
	old, ok := nodeTxn(txn, p.NodeID)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "node %q not found", p.NodeID)
	}
	if old.Status == api.NodeDown {
		return nil, api.Errorf(api.CodeConflict, "node %s is down; it cannot announce a restart", old.Name)
	}
	n := cloneNode(old)
	n.Status, n.UpdatedAt, n.RestartBy = api.NodeRestarting, cmd.Time, cmd.Time.Add(p.Grace)
	if err := insert(txn, tableNodes, n); err != nil {
		return nil, err
	}
	return n, nil
}

func (f *FSM) applyUpdateNode(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.UpdateNodePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if p.Availability != "" && !validAvailability(p.Availability) {
		return nil, api.Errorf(api.CodeInvalid, "update node: unknown availability %q (want active, pause or drain)", p.Availability)
	}
	for k := range p.LabelAdd {
		if k == "" {
			return nil, api.Errorf(api.CodeInvalid, "update node: label with an empty key")
		}
	}
	if err := validDrainDeadline(p); err != nil {
		return nil, err
	}
	old, ok := nodeTxn(txn, p.NodeID)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "node %q not found", p.NodeID)
	}
	n := cloneNode(old)
	if p.Availability != "" {
		n.Availability = p.Availability
		n.DrainDeadline = drainDeadline(p, cmd.Time)
	}
	for _, k := range p.LabelRemove {
		delete(n.Labels, k)
	}
	if len(p.LabelAdd) > 0 && n.Labels == nil {
		n.Labels = map[string]string{}
	}
	maps.Copy(n.Labels, p.LabelAdd)
	if len(n.Labels) == 0 {
		n.Labels = nil
	}
	if p.OperatorLabels {
		n.OperatorLabels = operatorLabels(n.OperatorLabels, p.LabelAdd, p.LabelRemove)
	}
	n.UpdatedAt = cmd.Time
	if err := insert(txn, tableNodes, n); err != nil {
		return nil, err
	}
	return n, nil
}

// applyRemoveNode forgets a node; with Deny its peer ID goes on the deny
// list, and with TokenNonce the join token rotates, in the same
// transaction.
func (f *FSM) applyRemoveNode(txn *memdb.Txn, cmd *api.Command) (any, *api.Error) {
	var p api.RemoveNodePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	old, ok := nodeTxn(txn, p.NodeID)
	if !ok {
		return nil, api.Errorf(api.CodeNotFound, "node %q not found", p.NodeID)
	}
	if err := remove(txn, tableNodes, old); err != nil {
		return nil, err
	}
	if p.Deny {
		if err := denyPeer(txn, old, cmd.Time); err != nil {
			return nil, err
		}
	}
	if len(p.TokenNonce) > 0 {
		if err := rotateToken(txn, p.TokenNonce, cmd.Time); err != nil {
			return nil, err
		}
	}
	return old, nil
}

// operatorLabels applies a node update's label changes to the labels the
// operator owns.
func operatorLabels(have, add map[string]string, rm []string) map[string]string {
	out := maps.Clone(have)
	for _, k := range rm {
		delete(out, k)
	}
	if len(add) > 0 && out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, add)
	if len(out) == 0 {
		return nil
	}
	return out
}
