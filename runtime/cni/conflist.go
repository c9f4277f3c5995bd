package cni

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
)

// cniVersion is the CNI spec version of the conflist: Debian's
// containernetworking-plugins 1.1 and libcni both speak 1.0.0.
const cniVersion = "1.0.0"

// BridgeName is the node's bridge: "shoal" and 10 hex digits of the
// SHA-256 of its node ID (15 bytes, the kernel's limit), so that several
// agents on one host each have their own.
func BridgeName(nodeID string) string {
	h := sha256.Sum256([]byte(nodeID))
	return "shoal" + hex.EncodeToString(h[:])[:10]
}

// ConflistParams is what a node's network configuration depends on.
type ConflistParams struct {
	NodeID string
	// Subnet is the node's /24: the bridge (gateway) takes its first
	// address, tasks the rest.
	Subnet netip.Prefix
	// IPAMDir is host-local's data dir (its leases).
	IPAMDir string
	// Ports adds portmap, for tasks that publish ports.
	Ports bool
	// MTU is the task interface's MTU (0: the plugin's default, the
	// bridge's): lower when the node reaches peers over VXLAN.
	MTU int
}

// Conflist renders the node's CNI network configuration list: loopback is
// run separately (it takes no IPAM); here bridge with host-local IPAM on
// the node's subnet, then portmap. The bridge plugin masquerades nothing:
// traffic between tasks keeps its source, and what leaves the cluster is
// masqueraded by the node's own table (EnsureMasquerade).
func Conflist(p ConflistParams) ([]byte, error) {
	if !p.Subnet.IsValid() || !p.Subnet.Addr().Is4() || p.Subnet.Bits() > 30 {
		return nil, fmt.Errorf("node subnet %s: want an IPv4 prefix of /30 or larger", p.Subnet)
	}
	if p.IPAMDir == "" {
		return nil, fmt.Errorf("no IPAM data dir")
	}
	s := p.Subnet.Masked()
	gw := s.Addr().Next()
	bridge := map[string]any{
		"type":        "bridge",
		"bridge":      BridgeName(p.NodeID),
		"isGateway":   true,
		"ipMasq":      false,
		"hairpinMode": true,
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": p.IPAMDir,
			"ranges": [][]map[string]string{{{
				"subnet":     s.String(),
				"rangeStart": gw.Next().String(),
				"gateway":    gw.String(),
			}}},
			"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
		},
	}
	if p.MTU > 0 {
		bridge["mtu"] = p.MTU
	}
	plugins := []map[string]any{bridge}
	if p.Ports {
		plugins = append(plugins, map[string]any{
			"type":         "portmap",
			"capabilities": map[string]bool{"portMappings": true},
			"snat":         true,
		})
	}
	return json.MarshalIndent(map[string]any{
		"cniVersion": cniVersion,
		"name":       "shoal",
		"plugins":    plugins,
	}, "", "  ")
}

// loopbackConf brings the namespace's lo up.
func loopbackConf() []byte {
	return []byte(`{"cniVersion":"` + cniVersion + `","name":"shoal-lo","plugins":[{"type":"loopback"}]}`)
}
