package state

import (
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoal-project/shoal/api"
)

// The deny list holds the peer IDs of removed nodes (api.DeniedPeer). A
// removal stamped with deny adds the node in the same transaction that
// deletes its record, so no replica ever has the one without the other.
// The list is bounded (api.MaxDeniedPeers): an entry past the bound drops
// the oldest one, by sequence number, which every replica computes the
// same way.

// denyPeer adds n to the deny list at the command time at, dropping the
// oldest entries beyond api.MaxDeniedPeers. A peer already listed keeps
// its entry.
func denyPeer(txn *memdb.Txn, n *api.Node, at time.Time) *api.Error {
	if _, ok := first[api.DeniedPeer](txn, tableDenied, indexID, n.ID); ok {
		return nil
	}
	var seq uint64 = 1
	if last, err := txn.Last(tableDenied, indexSeq); err == nil && last != nil {
		seq = last.(*api.DeniedPeer).Seq + 1
	}
	if err := insert(txn, tableDenied, &api.DeniedPeer{ID: n.ID, Name: n.Name, DeniedAt: at, Seq: seq}); err != nil {
		return err
	}
	return trimDenied(txn, api.MaxDeniedPeers)
}

// trimDenied drops the oldest entries until at most limit remain.
func trimDenied(txn *memdb.Txn, limit int) *api.Error {
	all := list[api.DeniedPeer](txn, tableDenied, indexSeq)
	for _, d := range all[:max(0, len(all)-limit)] {
		if err := remove(txn, tableDenied, d); err != nil {
			return err
		}
	}
	return nil
}

// PeerDenied reports whether the peer ID id is on the deny list.
func (v *View) PeerDenied(id string) bool {
	_, ok := v.DeniedPeer(id)
	return ok
}

// DeniedPeer returns the deny-list entry of peer ID id.
func (v *View) DeniedPeer(id string) (*api.DeniedPeer, bool) {
	return first[api.DeniedPeer](v.txn, tableDenied, indexID, id)
}

// DeniedSince returns the deny-list entries with a sequence number above
// seq, oldest first.
func (v *View) DeniedSince(seq uint64) []*api.DeniedPeer {
	it, err := v.txn.LowerBound(tableDenied, indexSeq, seq+1)
	if err != nil {
		return nil
	}
	var out []*api.DeniedPeer
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*api.DeniedPeer))
	}
	return out
}

// DeniedPeers returns the deny list, oldest first.
func (v *View) DeniedPeers() []*api.DeniedPeer {
	return list[api.DeniedPeer](v.txn, tableDenied, indexSeq)
}

// PeerDenied reports whether id is on the deny list; see View.PeerDenied.
func (s *Store) PeerDenied(id string) bool { return s.View().PeerDenied(id) }
