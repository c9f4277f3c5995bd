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

// rawEntry is one entry's raw command bytes.
type rawEntry struct {
	Index uint64
	Data  []byte
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
		data, err := unpacked.get(f.Codec, e.Index, e.Data)
		if err != nil {
			return fr, fmt.Errorf("entry %d: %w", e.Index, err)
		}
		fr.Entries = append(fr.Entries, rawEntry{Index: e.Index, Data: data})
	}
	return fr, nil
}

// unpacked shares decompressed entries among the simulated members of a
// process: every member receives the same committed entries, and a
// thousand machines would each decompress their own, in parallel; one
// process decompresses each once.
var unpacked = &unpackCache{byKey: map[packedKey][]byte{}}

// packedKey names one compressed entry: its index, and the checksum and
// size of its bytes (clusters of successive runs reuse indexes).
type packedKey struct {
	index uint64
	size  int
	crc   uint32
}

// unpackCache holds recently decompressed entries.
type unpackCache struct {
	mu    sync.Mutex
	byKey map[packedKey][]byte
	order []packedKey
}

const unpackCacheSize = 16384

func (c *unpackCache) get(codec string, index uint64, packed []byte) ([]byte, error) {
	if codec == "" {
		return packed, nil
	}
	key := packedKey{index: index, size: len(packed), crc: crc32.ChecksumIEEE(packed)}
	c.mu.Lock()
	data, ok := c.byKey[key]
	c.mu.Unlock()
	if ok {
		return data, nil
	}
	data, err := node.UnpackFeedData(codec, packed)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; !ok {
		c.byKey[key] = data
		c.order = append(c.order, key)
		if len(c.order) > unpackCacheSize {
			drop := len(c.order) - unpackCacheSize
			for _, k := range c.order[:drop] {
				delete(c.byKey, k)
			}
			c.order = append(c.order[:0], c.order[drop:]...)
		}
	}
	return data, nil
}

// matcher finds a literal in an entry's raw bytes.
type matcher struct{ lit []byte }

func newMatcher(lit string) matcher { return matcher{lit: []byte(lit)} }

// in reports whether the literal occurs in e's data.
func (m matcher) in(e rawEntry) bool { return bytes.Contains(e.Data, m.lit) }
