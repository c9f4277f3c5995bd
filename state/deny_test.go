package state

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// TestRemoveNodeWithDenyListsThePeerInTheSameApply checks that a removal
// stamped with deny deletes the record and lists the peer ID in one
// applied entry, with the command time and the node's name.
func TestRemoveNodeWithDenyListsThePeerInTheSameApply(t *testing.T) {
	h := bootstrapped(t)
	before := h.fsm.store.AppliedIndex()
	h.ok(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n2", Deny: true})
	v := h.fsm.store.View()
	if v.Index() != before+1 {
		t.Fatalf("applied index %d, want one entry after %d", v.Index(), before)
	}
	if _, ok := v.Node("n2"); ok {
		t.Fatal("node record still there")
	}
	if !v.PeerDenied("n2") || v.PeerDenied("n1") {
		t.Fatalf("denied: n2 %v, n1 %v; want only n2", v.PeerDenied("n2"), v.PeerDenied("n1"))
	}
	got := v.DeniedPeers()
	if len(got) != 1 || got[0].Name != "node-2" || !got[0].DeniedAt.Equal(h.now) || got[0].Seq != 1 {
		t.Fatalf("deny list %+v, want node-2 at %v, seq 1", got, h.now)
	}
}

// TestRemoveNodeWithoutDenyChangesNoDenyList checks a removal from a
// leader that does not stamp deny (an older build, or a node below
// protocol 5) behaves as before: the record goes, nothing is denied.
func TestRemoveNodeWithoutDenyChangesNoDenyList(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n2", TokenNonce: []byte("n")})
	v := h.fsm.store.View()
	if _, ok := v.Node("n2"); ok {
		t.Fatal("node record still there")
	}
	if v.PeerDenied("n2") || len(v.DeniedPeers()) != 0 {
		t.Fatalf("a removal without deny denied %+v", v.DeniedPeers())
	}
}

// TestFailedRemovalDeniesNobody checks a removal of an unknown node
// changes nothing, deny list included.
func TestFailedRemovalDeniesNobody(t *testing.T) {
	h := bootstrapped(t)
	h.fails(api.CmdRemoveNode, api.CodeNotFound, api.RemoveNodePayload{NodeID: "nope", Deny: true})
	if len(h.fsm.store.View().DeniedPeers()) != 0 {
		t.Fatal("a failed removal denied a peer")
	}
}

// TestDenyListIsBounded checks the list keeps the newest
// api.MaxDeniedPeers entries, dropping the oldest, and that a peer denied
// again keeps its first entry.
func TestDenyListIsBounded(t *testing.T) {
	s := NewStore()
	txn := s.writeTxn()
	for i := range api.MaxDeniedPeers + 2 {
		n := &api.Node{ID: fmt.Sprintf("p%05d", i), Name: fmt.Sprintf("n%d", i)}
		if err := denyPeer(txn, n, t0.Add(time.Duration(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := denyPeer(txn, &api.Node{ID: "p00005", Name: "again"}, t0); err != nil {
		t.Fatal(err)
	}
	s.commit(txn, 1)
	v := s.View()
	all := v.DeniedPeers()
	if len(all) != api.MaxDeniedPeers {
		t.Fatalf("%d entries, want %d", len(all), api.MaxDeniedPeers)
	}
	if v.PeerDenied("p00000") || v.PeerDenied("p00001") || !v.PeerDenied("p00002") || !v.PeerDenied(fmt.Sprintf("p%05d", api.MaxDeniedPeers+1)) {
		t.Fatal("the two oldest entries should be dropped, the others kept")
	}
	if all[0].ID != "p00002" || all[len(all)-1].Seq != api.MaxDeniedPeers+2 {
		t.Fatalf("order: first %s, last seq %d", all[0].ID, all[len(all)-1].Seq)
	}
	if since := v.DeniedSince(api.MaxDeniedPeers); len(since) != 2 || since[0].Seq != api.MaxDeniedPeers+1 {
		t.Fatalf("DeniedSince(%d) = %d entries, want the 2 newest", api.MaxDeniedPeers, len(since))
	}
	for _, d := range all {
		if d.ID == "p00005" && d.Name != "n5" {
			t.Fatalf("a peer denied again got a new entry: %+v", d)
		}
	}
}

// TestDenyListSurvivesSnapshotsAndRestores checks the deny list is in
// the snapshot stream, and that a restore keeps the running cluster's.
func TestDenyListSurvivesSnapshotsAndRestores(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdRegisterNode, api.RegisterNodePayload{Node: testNode("n3", "node-3")})
	b, err := DecodeBackup(backupOf(t, h))
	if err != nil {
		t.Fatal(err)
	}
	h.ok(api.CmdRemoveNode, api.RemoveNodePayload{NodeID: "n3", Deny: true})

	restored := NewFSM(NewStore())
	if err := restored.Restore(bytes.NewReader(snapshotBytes(t, h.fsm))); err != nil {
		t.Fatal(err)
	}
	if !restored.store.PeerDenied("n3") {
		t.Fatal("the deny list did not survive a snapshot")
	}
	db, _, err := mergeRestore(h.fsm.store.View(), b.db, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if v := (&View{txn: db.Txn(false)}); !v.PeerDenied("n3") {
		t.Fatal("a restore of a backup from before the removal dropped the deny entry")
	}
}
