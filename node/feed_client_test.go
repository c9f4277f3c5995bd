package node

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	msmux "github.com/multiformats/go-multistream"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/p2p"
	"github.com/shoal-project/shoal/state"
)

// fakeFeedNode is a feedNode whose peers answer "leader" from a table and
// whose leader serves the feed from a function.
type fakeFeedNode struct {
	self    string
	peers   []knownPeer
	answers map[string]leaderReply
	raft    atomic.Bool
	serve   func(c net.Conn)
	// serve1 serves feed/1; unset, the leader speaks feed/2 only, and set
	// with v1Only, it speaks feed/1 only (an older build).
	serve1 func(c net.Conn)
	v1Only bool
	mu     sync.Mutex
	asked  []string
}

func (n *fakeFeedNode) ID() string              { return n.self }
func (n *fakeFeedNode) raftActive() bool        { return n.raft.Load() }
func (n *fakeFeedNode) knownPeers() []knownPeer { return n.peers }

func (n *fakeFeedNode) call(_ context.Context, to peer.ID, m rpcMethod, _, resp any) error {
	if m != rpcLeader {
		return errors.New("unexpected method " + string(m))
	}
	n.mu.Lock()
	n.asked = append(n.asked, to.String())
	n.mu.Unlock()
	r, ok := n.answers[to.String()]
	if !ok {
		return errors.New("unreachable")
	}
	*resp.(*leaderReply) = r
	return nil
}

func (n *fakeFeedNode) dial(_ context.Context, _ peer.ID, proto protocol.ID) (net.Conn, error) {
	serve := n.serve
	switch {
	case proto == feedProtocol2 && n.v1Only:
		return nil, fmt.Errorf("dial: %w", msmux.ErrNotSupported[protocol.ID]{Protos: []protocol.ID{proto}})
	case proto == feedProtocol && n.serve1 != nil:
		serve = n.serve1
	case proto != feedProtocol2:
		return nil, errors.New("unexpected protocol " + string(proto))
	}
	client, server := net.Pipe()
	go serve(server)
	return client, nil
}

// writeFrame2 writes one feed/2 frame to c.
func writeFrame2(c net.Conn, h feedHeader, entries []state.Entry, chunk []byte) error {
	w := bufio.NewWriter(c)
	if err := writeFeedFrame(w, h, entries, chunk); err != nil {
		return err
	}
	return w.Flush()
}

func testPeerID(t *testing.T, seed byte) string {
	t.Helper()
	seedBytes := make([]byte, ed25519.SeedSize)
	seedBytes[0] = seed
	priv, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seedBytes))
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// leaderLog builds n committed entries on a leader FSM: a bootstrap, then
// services.
func leaderLog(t *testing.T, n int) (*state.FSM, []state.Entry) {
	t.Helper()
	fsm := state.NewFSM(state.NewStore())
	var entries []state.Entry
	at := time.Unix(1e9, 0).UTC()
	for i := 1; i <= n; i++ {
		var typ api.CommandType
		var payload any
		if i == 1 {
			typ = api.CmdBootstrap
			payload = api.BootstrapPayload{
				Cluster: api.Cluster{ID: "c1", SigningKey: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), GossipKey: make([]byte, 32), TokenNonce: []byte("n")},
				Node:    api.Node{ID: "n1", Name: "n1"},
			}
		} else {
			typ = api.CmdCreateService
			payload = api.CreateServicePayload{ServiceID: "svc-" + itoa(i), Spec: api.ServiceSpec{Name: "s" + itoa(i), Runtime: "process", Command: []string{"sleep", "1"}, Mode: api.ModeReplicated, Replicas: 1}}
		}
		p, _ := json.Marshal(payload)
		data, _ := json.Marshal(api.Command{Version: api.CommandVersion, Type: typ, Time: at.Add(time.Duration(i) * time.Second), Payload: p})
		e := state.Entry{Index: uint64(i), Data: data}
		if res := fsm.Apply(e); res.Err != nil {
			t.Fatalf("entry %d: %v", i, res.Err)
		}
		entries = append(entries, e)
	}
	return fsm, entries
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestFeedClientFollowsTheLeaderItDiscovers checks the client asks voters
// first, stops at the first voter that names a leader, asks that leader
// for the entries after its applied index, and applies a snapshot and then
// entries so its replica equals the leader's.
func TestFeedClientFollowsTheLeaderItDiscovers(t *testing.T) {
	self, voter, member, leader := testPeerID(t, 1), testPeerID(t, 2), testPeerID(t, 3), testPeerID(t, 4)
	leaderFSM, entries := leaderLog(t, 6)
	snap, snapIndex, err := leaderFSM.Store().SnapshotJSON()
	if err != nil {
		t.Fatal(err)
	}
	var requested atomic.Uint64
	requested.Store(^uint64(0))
	node := &fakeFeedNode{
		self:    self,
		peers:   []knownPeer{{voter, true}, {member, false}},
		answers: map[string]leaderReply{voter: {LeaderID: leader, Term: 7}, member: {LeaderID: "someone-else", Term: 9}},
		serve: func(c net.Conn) {
			defer c.Close()
			var req feedRequest
			if err := p2p.ReadFrame(c, &req, 4<<10); err != nil {
				return
			}
			requested.Store(req.From)
			// A snapshot of entries 1..6 in three chunks, then nothing
			// new: heartbeats.
			third := len(snap) / 3
			for off := 0; off < len(snap); off += third {
				end := min(off+third, len(snap))
				if len(snap)-end < third {
					end = len(snap)
				}
				h := feedHeader{LeaderID: leader, Term: 7, Snapshot: &snapshotChunk{Index: snapIndex, Offset: int64(off), Total: int64(len(snap))}}
				if writeFrame2(c, h, nil, snap[off:end]) != nil {
					return
				}
				off = end - third
			}
			for {
				if err := writeFrame2(c, feedHeader{LeaderID: leader, Term: 7}, nil, nil); err != nil {
					return
				}
				time.Sleep(10 * time.Millisecond) // heartbeat pace of the fake leader, not a wait for a condition
			}
		},
	}
	member0 := state.NewFSM(state.NewStore())
	f := runFeedClient(t, node, member0)

	waitFor(t, 5*time.Second, "replica reaches the leader's snapshot", func() bool {
		return member0.Store().AppliedIndex() == snapIndex
	})
	if got := requested.Load(); got != 0 {
		t.Fatalf("client asked for entries after %d, want 0 (its applied index)", got)
	}
	if id, term := f.leaderTerm(); id != leader || term != 7 {
		t.Fatalf("following %s in term %d, want %s in 7", id, term, leader)
	}
	node.mu.Lock()
	asked := append([]string(nil), node.asked...)
	node.mu.Unlock()
	if len(asked) == 0 || asked[0] != voter {
		t.Fatalf("asked %v first, want the voter %s first", asked, voter)
	}
	for _, a := range asked {
		if a == member {
			t.Fatalf("asked the plain member %s after a voter named the leader", member)
		}
	}
	if got, want := len(member0.Store().Services()), len(entries)-1; got != want {
		t.Fatalf("replica has %d services, want %d", got, want)
	}

	// Raft takes over: the client stops following and forgets the leader.
	node.raft.Store(true)
	waitFor(t, 5*time.Second, "client lets Raft take over", func() bool {
		id, _ := f.leaderTerm()
		return id == ""
	})
}

// TestFeedClientAppliesEntriesInOrderAndSkipsOld checks entries at or below
// the applied index are skipped and newer ones applied.
func TestFeedClientAppliesEntriesInOrderAndSkipsOld(t *testing.T) {
	self, leader := testPeerID(t, 1), testPeerID(t, 4)
	_, entries := leaderLog(t, 8)
	member0 := state.NewFSM(state.NewStore())
	for _, e := range entries[:3] {
		member0.ApplyFeed(e)
	}
	node := &fakeFeedNode{
		self:    self,
		peers:   []knownPeer{{leader, true}},
		answers: map[string]leaderReply{leader: {LeaderID: leader, Term: 2}},
		serve: func(c net.Conn) {
			defer c.Close()
			var req feedRequest
			if err := p2p.ReadFrame(c, &req, 4<<10); err != nil {
				return
			}
			// Resend everything from 1: the client must skip 1..3.
			writeFrame2(c, feedHeader{LeaderID: leader, Term: 2}, entries, nil)
			var b [1]byte
			c.Read(b[:]) // hold the stream open until the client closes it
		},
	}
	runFeedClient(t, node, member0)
	waitFor(t, 5*time.Second, "replica applies every entry", func() bool {
		return member0.Store().AppliedIndex() == uint64(len(entries))
	})
	if got, want := len(member0.Store().Services()), len(entries)-1; got != want {
		t.Fatalf("replica has %d services, want %d", got, want)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFeedClientFallsBackToFeed1 checks a member follows a leader of an
// older build, which speaks only feed/1 (JSON frames).
func TestFeedClientFallsBackToFeed1(t *testing.T) {
	self, leader := testPeerID(t, 1), testPeerID(t, 4)
	_, entries := leaderLog(t, 5)
	node := &fakeFeedNode{
		self:    self,
		peers:   []knownPeer{{leader, true}},
		answers: map[string]leaderReply{leader: {LeaderID: leader, Term: 3}},
		v1Only:  true,
		serve1: func(c net.Conn) {
			defer c.Close()
			var req feedRequest
			if err := p2p.ReadFrame(c, &req, 4<<10); err != nil {
				return
			}
			p2p.WriteFrame(c, feedFrame{LeaderID: leader, Term: 3, Entries: entries})
			var b [1]byte
			c.Read(b[:])
		},
	}
	member0 := state.NewFSM(state.NewStore())
	runFeedClient(t, node, member0)
	waitFor(t, 5*time.Second, "replica applies the feed/1 entries", func() bool {
		return member0.Store().AppliedIndex() == uint64(len(entries))
	})
}

// TestFeedFrameRoundTripAndLimits checks a feed/2 frame decodes to what
// was written, that cutEntries bounds frames by data size, and that
// damaged frames are refused with an error, not a panic.
func TestFeedFrameRoundTripAndLimits(t *testing.T) {
	_, entries := leaderLog(t, 4)
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	h := feedHeader{LeaderID: "L", Term: 9, Snapshot: &snapshotChunk{Index: 3, Offset: 2, Total: 10}}
	if err := writeFeedFrame(w, h, entries, []byte("abcd")); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	raw := append([]byte(nil), buf.Bytes()...)
	fr, err := readFeedFrame(&buf, maxFeedFrame)
	if err != nil {
		t.Fatal(err)
	}
	if fr.LeaderID != "L" || fr.Term != 9 || len(fr.Data) != len(entries) || string(fr.Chunk) != "abcd" || fr.Snapshot.Size != 4 {
		t.Fatalf("decoded %+v", fr.feedHeader)
	}
	for i, e := range fr.Data {
		if e.Index != entries[i].Index || !bytes.Equal(e.Data, entries[i].Data) {
			t.Fatalf("entry %d differs", i)
		}
	}
	if got := cutEntries(entries, len(entries[0].Data)+1); len(got) != 1 {
		t.Fatalf("cut to %d entries, want 1", len(got))
	}
	if got := cutEntries(entries[:1], 1); len(got) != 1 {
		t.Fatal("cut an entry larger than the limit away; want it alone in its frame")
	}
	for n := 0; n < len(raw); n += 7 {
		if _, err := readFeedFrame(bytes.NewReader(raw[:n]), maxFeedFrame); err == nil {
			t.Fatalf("a frame cut at %d bytes decoded", n)
		}
	}
	if _, err := readFeedFrame(bytes.NewReader(raw), 16); err == nil {
		t.Fatal("a frame over the limit was read")
	}
}

// TestReadFeedFrameIntoReusesItsBuffer: frames read into one buffer reuse
// it while they fit and grow it when not, and each decodes as its own.
func TestReadFeedFrameIntoReusesItsBuffer(t *testing.T) {
	_, entries := leaderLog(t, 4)
	var stream bytes.Buffer
	w := bufio.NewWriter(&stream)
	for _, n := range []int{4, 1, 3} {
		if err := writeFeedFrame(w, feedHeader{LeaderID: "L", Term: uint64(n)}, entries[:n], nil); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	var buf []byte
	var firstBuf *byte
	for i, n := range []int{4, 1, 3} {
		fr, err := readFeedFrameInto(&stream, maxFeedFrame, &buf)
		if err != nil {
			t.Fatal(err)
		}
		if fr.Term != uint64(n) || len(fr.Data) != n {
			t.Fatalf("frame %d: term %d with %d entries, want %d and %d", i, fr.Term, len(fr.Data), n, n)
		}
		for j, e := range fr.Data {
			if !bytes.Equal(e.Data, entries[j].Data) {
				t.Fatalf("frame %d entry %d differs", i, j)
			}
		}
		if i == 0 {
			firstBuf = &buf[:1][0]
		} else if &buf[:1][0] != firstBuf {
			t.Fatalf("frame %d, smaller than the first, got a new buffer", i)
		}
	}
}

// FuzzDecodeFeedFrame checks damaged frame bodies give errors, not panics.
func FuzzDecodeFeedFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0, 0, 0, 30, '{', '"', 'e', 'n', 't', 'r', 'i', 'e', 's', '"', ':', '[', '[', '1', ',', '9', '9', ']', ']', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFeedFrame(b)
		if err == nil && fr == nil {
			t.Fatal("nil frame without error")
		}
	})
}

// TestPackedEntriesRoundTrip checks compressed entries decode to the
// original bytes, are compressed once while cached, and that the cache
// keeps at most its limit.
func TestPackedEntriesRoundTrip(t *testing.T) {
	_, entries := leaderLog(t, 6)
	p := newPackedEntries(4)
	packed := p.pack(entries)
	again := p.pack(entries[4:])
	if &again[0].Data[0] != &packed[4].Data[0] {
		t.Fatal("a cached entry was compressed again")
	}
	if len(p.byIdx) != 4 || len(p.order) != 4 {
		t.Fatalf("cache holds %d entries, want its limit 4", len(p.byIdx))
	}
	f := &feedFrame2{feedHeader: feedHeader{Codec: feedCodec}, Data: packed}
	if err := unpackFrame(f); err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		if !bytes.Equal(f.Data[i].Data, entries[i].Data) {
			t.Fatalf("entry %d differs after a round trip", i)
		}
	}
	f = &feedFrame2{feedHeader: feedHeader{Codec: "lz9"}, Data: packed}
	if err := unpackFrame(f); err == nil {
		t.Fatal("an unknown codec was accepted")
	}
	img := []byte(strings.Repeat("snapshot ", 1000))
	if got, err := unpackImage(feedCodec, packImage(img)); err != nil || !bytes.Equal(got, img) {
		t.Fatalf("image round trip: %v", err)
	}
	if _, err := unpackImage(feedCodec, []byte("not zstd")); err == nil {
		t.Fatal("garbage unpacked")
	}
}

// runFeedClient runs a feed client of node into fsm until the test ends.
func runFeedClient(t *testing.T, node feedNode, fsm *state.FSM) *feedClient {
	t.Helper()
	f := newFeedClient(node, fsm, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.retry = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

// The gap between two frames to one member grows with the members the
// leader feeds and is capped, so the leader's frames per second stay
// bounded while a member's lag stays small.
func TestFeedGapGrowsWithFollowersAndIsCapped(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want time.Duration
	}{{0, 0}, {3, 3 * time.Millisecond}, {100, 100 * time.Millisecond}, {1000, time.Second}, {5000, maxFeedGap}} {
		if got := feedGap(c.n); got != c.want {
			t.Errorf("feedGap(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	// Up to the cap, frames per second over all members never pass
	// 1/feedGapPerFollower.
	for _, n := range []int64{10, 500, 1000} {
		if rate := float64(n) / feedGap(n).Seconds(); rate > 1/feedGapPerFollower.Seconds()+1e-6 {
			t.Errorf("%d members: %.0f frames/s", n, rate)
		}
	}
}
