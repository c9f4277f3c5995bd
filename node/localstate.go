package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/internal/fsutil"
)

// localState is what a node keeps in its data dir about the cluster it
// belongs to, so that it can restart without --join: the cluster's identity,
// the gossip key, and where its peers were last seen.
type localState struct {
	ClusterID     string       `json:"cluster_id"`
	ClusterDigest []byte       `json:"cluster_digest"`
	GossipKey     []byte       `json:"gossip_key"`
	Peers         []peerRecord `json:"peers"`

	// mu guards Peers once the agent runs: the membership loop replaces
	// them while the state feed reads them.
	mu sync.Mutex
}

// peers returns a copy of the last known peers.
func (s *localState) peers() []peerRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.Peers)
}

// replacePeers records peers and saves the state when they changed.
func (s *localState) replacePeers(peers []peerRecord, dataDir string) error {
	s.mu.Lock()
	same := slices.Equal(s.Peers, peers)
	if !same {
		s.Peers = peers
	}
	s.mu.Unlock()
	if same {
		return nil
	}
	return s.save(dataDir)
}

// peerRecord is how to reach a member.
type peerRecord struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	P2PAddr    string `json:"p2p_addr"`
	GossipAddr string `json:"gossip_addr"`
}

const localStateFile = "cluster.json"

func peerRecordsOf(nodes []*api.Node) []peerRecord {
	out := make([]peerRecord, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, peerRecord{ID: n.ID, Name: n.Name, P2PAddr: n.P2PAddr, GossipAddr: n.GossipAddr})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// loadLocalState returns nil, nil when the data dir holds no cluster yet.
func loadLocalState(dataDir string) (*localState, error) {
	path := filepath.Join(dataDir, localStateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data dir: cannot read %s: %v", path, unwrapPathErr(err))
	}
	var s localState
	if err := json.Unmarshal(b, &s); err != nil || s.ClusterID == "" || len(s.ClusterDigest) != 32 {
		return nil, fmt.Errorf("data dir: %s is corrupt; move the data dir away to start afresh", path)
	}
	return &s, nil
}

// save writes the state atomically and durably (fsutil.WriteFile).
func (s *localState) save(dataDir string) error {
	s.mu.Lock()
	b, err := json.MarshalIndent(s, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	path := filepath.Join(dataDir, localStateFile)
	if err := fsutil.WriteFile(path, b, 0o600, true); err != nil {
		return fmt.Errorf("data dir: %v", unwrapPathErr(err))
	}
	return nil
}
