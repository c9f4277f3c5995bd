package chaos

import (
	"fmt"
	"strings"
)

// nftPartitioner partitions for real: a cut is an nftables table "chaos"
// in the cut node's namespace, whose input and output chains drop packets
// from and to the peers' addresses. Only peer addresses match, so the
// root namespace (the gateway, .1) always reaches every API; heal deletes the
// table. Rules match every packet, established connections too.
type nftPartitioner struct{ lab *netLab }

// nftTable is the table the cuts live in, in each node's namespace.
const nftTable = "inet chaos"

func (p nftPartitioner) block(node string, peers []string, outboundOnly bool) error {
	n, ok := p.lab.node(node)
	if !ok {
		return fmt.Errorf("no lab node %q", node)
	}
	var ips []string
	for _, peer := range peers {
		pn, ok := p.lab.node(peer)
		if !ok {
			return fmt.Errorf("no lab node %q", peer)
		}
		ips = append(ips, pn.ip)
	}
	_, err := runTool(nftCutScript(ips, outboundOnly), "ip", "netns", "exec", n.ns, "nft", "-f", "-")
	return err
}

// heal deletes the node's chaos table; declaring it first makes the
// delete succeed when there is none.
func (p nftPartitioner) heal(node string) error {
	n, ok := p.lab.node(node)
	if !ok {
		return fmt.Errorf("no lab node %q", node)
	}
	_, err := runTool("table "+nftTable+"\ndelete table "+nftTable+"\n", "ip", "netns", "exec", n.ns, "nft", "-f", "-")
	return err
}

func (nftPartitioner) outbound() string { return "packets (nftables output drop)" }

// nftCutScript is the nft -f script that drops traffic with ips: what
// the node sends them, and unless outboundOnly what it receives from
// them. Applied twice, it adds the rules again (same effect).
func nftCutScript(ips []string, outboundOnly bool) string {
	set := "{ " + strings.Join(ips, ", ") + " }"
	var b strings.Builder
	fmt.Fprintf(&b, "table %s {\n", nftTable)
	fmt.Fprintf(&b, "\tchain out { type filter hook output priority 0; policy accept; ip daddr %s drop; }\n", set)
	if !outboundOnly {
		fmt.Fprintf(&b, "\tchain in { type filter hook input priority 0; policy accept; ip saddr %s drop; }\n", set)
	}
	b.WriteString("}\n")
	return b.String()
}
