package node

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// announceForcedCluster tells the operator what --force-new-cluster did.
// By the time it runs, Raft has been recovered (raft.Config.ForceNewCluster)
// and the replica replayed: this node is the only voter of the same cluster,
// with its services and tasks. The former voters' records stay: the
// leader's liveness loop marks them down and their tasks are replaced;
// the voter loop adds voters again as nodes join with the join token.
func (a *Agent) announceForcedCluster() {
	var former []string
	for _, n := range a.store().Nodes() {
		if n.ID != a.ID() && n.RaftRole == api.RoleVoter {
			former = append(former, n.Name)
		}
	}
	sort.Strings(former)
	was := "no other voters"
	if len(former) > 0 {
		was = "former voters " + strings.Join(former, ", ") + " are out of Raft"
	}
	a.log.Info("forced a new cluster", "data_dir", a.cfg.DataDir, "cluster", a.state.ClusterID, "index", a.store().AppliedIndex())
	fmt.Fprintf(a.out, "Forced a new cluster: this node (%s) is now the only voter of cluster %s, with its state as of index %d; %s (their records stay, are marked down, and their tasks are replaced). Add nodes with the join token (shoal token show).\n",
		a.cfg.Name, a.state.ClusterID, a.store().AppliedIndex(), was)
}
