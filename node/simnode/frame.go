package simnode

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"sync"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/node"
)

// A real member applies every entry of the state feed to a full replica. A
// thousand full replicas of 100,000 tasks do not fit in one process, so a
// simulated member reads the same feed/2 frames off the same stream but
// looks only at what concerns it: it finds the entries that name it (or,
// once it has tasks, that lower, orphan or delete tasks) by searching
// their raw bytes, and decodes only those.

// rawFrame is a feed frame as the tracker reads it.
type rawFrame struct {
	LeaderID string
	Term     uint64
	Snapshot []byte     // a whole SnapshotJSON image, or nil
	Entries  []rawEntry // in index order
	Error    *api.Error
}

// rawEntry is one entry's raw command bytes, with what members ask of
// them when the entry came through the process's cache.
type rawEntry struct {
	Index  uint64
	Data   []byte
	shared *entryFacts
}

// facts are the entry's facts: shared by the process's members, or read
// now for an entry built by hand.
func (e rawEntry) facts() *entryFacts {
	if e.shared != nil {
		return e.shared
	}
	return factsOf(e.Data)
}

// snapshotAssembler joins the chunks of a snapshot image.
type snapshotAssembler struct {
	buf   []byte
	index uint64
}

// frameOf turns a feed/2 frame into a rawFrame, joining snapshot chunks:
// the frame that completes an image carries it whole.
func (s *snapshotAssembler) frameOf(f *node.FeedFrame2) (rawFrame, error) {
	fr := rawFrame{LeaderID: f.LeaderID, Term: f.Term, Error: f.Error}
	if c := f.Snapshot; c != nil {
		if c.Offset == 0 {
			s.buf, s.index = make([]byte, 0, c.Total), c.Index
		}
		if c.Index != s.index || c.Offset != int64(len(s.buf)) {
			return fr, fmt.Errorf("snapshot chunk at %d of index %d does not follow %d bytes of index %d", c.Offset, c.Index, len(s.buf), s.index)
		}
		s.buf = append(s.buf, f.Chunk...)
		if int64(len(s.buf)) == c.Total {
			img, err := node.UnpackFeedData(f.Codec, s.buf)
			if err != nil {
				return fr, err
			}
			fr.Snapshot, s.buf = img, nil
		}
	}
	for _, e := range f.Data {
		facts, err := unpacked.get(f.Codec, e.Index, e.Data)
		if err != nil {
			return fr, fmt.Errorf("entry %d: %w", e.Index, err)
		}
		fr.Entries = append(fr.Entries, rawEntry{Index: e.Index, Data: facts.data, shared: facts})
	}
	return fr, nil
}

// unpacked shares decompressed entries, and their facts, among the
// simulated members of a process: every member receives the same
// committed entries, and a thousand machines would each decompress and
// search their own, in parallel; one process does each once.
var unpacked = &unpackCache{byKey: map[packedKey]*unpackSlot{}}

// packedKey names one compressed entry: its index, and the checksum and
// size of its bytes (clusters of successive runs reuse indexes).
type packedKey struct {
	index uint64
	size  int
	crc   uint32
}

// unpackCache holds recently decompressed entries. Members that ask for
// an entry at the same moment (they all receive it at once) wait for the
// first one's work instead of repeating it.
type unpackCache struct {
	mu    sync.Mutex
	byKey map[packedKey]*unpackSlot
	order []packedKey
}

type unpackSlot struct {
	once  sync.Once
	facts *entryFacts
	err   error
}

const unpackCacheSize = 16384

func (c *unpackCache) get(codec string, index uint64, packed []byte) (*entryFacts, error) {
	key := packedKey{index: index, size: len(packed), crc: crc32.ChecksumIEEE(packed)}
	c.mu.Lock()
	slot, ok := c.byKey[key]
	if !ok {
		slot = &unpackSlot{}
		c.byKey[key] = slot
		c.order = append(c.order, key)
		if len(c.order) > unpackCacheSize {
			drop := len(c.order) - unpackCacheSize
			for _, k := range c.order[:drop] {
				delete(c.byKey, k)
			}
			c.order = append(c.order[:0], c.order[drop:]...)
		}
	}
	c.mu.Unlock()
	slot.once.Do(func() {
		var data []byte
		if codec == "" {
			data = bytes.Clone(packed) // packed is in the frame's buffer, which the next frame reuses
		} else if data, slot.err = node.UnpackFeedData(codec, packed); slot.err != nil {
			return
		}
		slot.facts = factsOf(data)
	})
	return slot.facts, slot.err
}
