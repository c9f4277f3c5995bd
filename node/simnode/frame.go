package simnode

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/node"
)

// A real member decodes every state-feed frame into Go values and applies
// every entry to a full replica. A thousand full replicas of 100,000 tasks
// do not fit in one process, so a simulated member reads the same frames
// off the same stream but looks only at what concerns it: it finds the
// entries that name it (or, once it has tasks, that lower, orphan or delete
// tasks) without decoding the base64 of the others, and parses only those.

// rawFrame is a feed frame with its data still base64 text.
type rawFrame struct {
	LeaderID string
	Term     uint64
	Snapshot []byte     // base64 text of a SnapshotJSON image, or nil
	Entries  []rawEntry // in index order
	Error    *api.Error
}

// rawEntry is one entry; Data is set when the frame had to be decoded by
// encoding/json (then B64 is nil).
type rawEntry struct {
	Index uint64
	B64   []byte
	Data  []byte
}

// bufPool holds frame buffers, shared by all simulated members of a
// process: only the frames being scanned at a moment are in memory.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readFrameBody reads one length-prefixed frame (p2p.WriteFrame's format)
// into a pooled buffer; the caller returns it with bufPool.Put.
func readFrameBody(r io.Reader, maxSize int) (*bytes.Buffer, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("read frame: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(maxSize) {
		return nil, fmt.Errorf("frame of %d bytes exceeds limit of %d bytes", n, maxSize)
	}
	if n == 0 {
		return nil, fmt.Errorf("read frame: empty frame")
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := io.CopyN(buf, r, int64(n)); err != nil {
		bufPool.Put(buf)
		return nil, fmt.Errorf("read frame: %w", err)
	}
	return buf, nil
}

// parseFrame reads a frame body. Frames as encoding/json writes a
// node.FeedFrame are scanned in place; anything else (an error frame, or a
// shape the scanner does not expect) is decoded by encoding/json.
func parseFrame(b []byte) (rawFrame, error) {
	if fr, ok := scanFrame(b); ok {
		return fr, nil
	}
	var f node.FeedFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return rawFrame{}, fmt.Errorf("decode frame: %w", err)
	}
	fr := rawFrame{LeaderID: f.LeaderID, Term: f.Term, Error: f.Error}
	if f.Snapshot != nil {
		fr.Snapshot = []byte(base64.StdEncoding.EncodeToString(f.Snapshot))
	}
	for _, e := range f.Entries {
		fr.Entries = append(fr.Entries, rawEntry{Index: e.Index, Data: e.Data})
	}
	return fr, nil
}

// scanFrame parses {"leader_id":"..","term":N[,"snapshot":".."][,"entries":[{"i":N,"d":".."},..]]}.
// Base64 (and peer IDs) contain no quote or escape, so a value ends at the
// next quote.
func scanFrame(b []byte) (rawFrame, bool) {
	var fr rawFrame
	c := cursor{b: b}
	if !c.lit(`{"leader_id":"`) {
		return fr, false
	}
	id, ok := c.until('"')
	if !ok || !c.lit(`,"term":`) {
		return fr, false
	}
	fr.LeaderID = string(id)
	if fr.Term, ok = c.uint(); !ok {
		return fr, false
	}
	if c.lit(`,"snapshot":"`) {
		if fr.Snapshot, ok = c.until('"'); !ok {
			return fr, false
		}
	}
	if c.lit(`,"entries":[`) {
		for {
			if !c.lit(`{"i":`) {
				return fr, false
			}
			var e rawEntry
			if e.Index, ok = c.uint(); !ok || !c.lit(`,"d":"`) {
				return fr, false
			}
			if e.B64, ok = c.until('"'); !ok || !c.lit(`}`) {
				return fr, false
			}
			fr.Entries = append(fr.Entries, e)
			if c.lit(`,`) {
				continue
			}
			if c.lit(`]`) {
				break
			}
			return fr, false
		}
	}
	return fr, c.lit(`}`) && c.done()
}

type cursor struct {
	b []byte
	i int
}

func (c *cursor) lit(s string) bool {
	if len(c.b)-c.i >= len(s) && string(c.b[c.i:c.i+len(s)]) == s {
		c.i += len(s)
		return true
	}
	return false
}

// until returns the bytes up to the next q and moves past it.
func (c *cursor) until(q byte) ([]byte, bool) {
	j := bytes.IndexByte(c.b[c.i:], q)
	if j < 0 {
		return nil, false
	}
	v := c.b[c.i : c.i+j]
	c.i += j + 1
	return v, true
}

func (c *cursor) uint() (uint64, bool) {
	j := c.i
	for j < len(c.b) && c.b[j] >= '0' && c.b[j] <= '9' {
		j++
	}
	v, err := strconv.ParseUint(string(c.b[c.i:j]), 10, 64)
	if err != nil {
		return 0, false
	}
	c.i = j
	return v, true
}

func (c *cursor) done() bool { return c.i == len(c.b) }

// b64Matcher finds a literal inside base64 text without decoding it: the
// literal starts at some offset of the data, so for one of the three
// alignments its suffix, cut to whole 3-byte groups, is encoded verbatim.
type b64Matcher struct {
	lit  []byte
	pats [3][]byte
}

func newB64Matcher(lit string) b64Matcher {
	m := b64Matcher{lit: []byte(lit)}
	for k := 0; k < 3 && k < len(lit); k++ {
		s := lit[k:]
		s = s[:len(s)/3*3]
		if len(s) == 0 {
			continue
		}
		m.pats[k] = []byte(base64.StdEncoding.EncodeToString([]byte(s)))
	}
	return m
}

// in reports whether the literal may occur in e's data (base64 matches
// are exact up to a coincidence of ~60 base64 characters).
func (m b64Matcher) in(e rawEntry) bool {
	if e.B64 == nil {
		return bytes.Contains(e.Data, m.lit)
	}
	for _, p := range m.pats {
		if len(p) > 0 && bytes.Contains(e.B64, p) {
			return true
		}
	}
	return false
}
