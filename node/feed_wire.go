package node

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/shoal-project/shoal/api"
	"github.com/shoal-project/shoal/state"
)

// feedProtocol2 is the state feed with binary frames. Each frame is
//
//	uint32 frame length | uint32 header length | header (JSON) | data
//
// (lengths big-endian). The header names the leader and its term and lists
// the entries whose raw command bytes follow it in order (index and size
// of each), then, optionally, one chunk of a snapshot image. Entry bytes
// are written as they sit in the leader's window — no per-member JSON or
// base64 encoding — and a frame holds at most feedFrameBytes of data, so
// a member that lags far behind catches up frame by frame, and a large
// snapshot arrives in chunks.
const feedProtocol2 = "/shoal/feed/2"

// feedFrameBytes is the data a feed frame carries at most (one entry may
// be larger on its own).
const feedFrameBytes = 1 << 20

// feedIdleTimeout is how long a member waits for the next bytes of the
// feed (the leader sends a heartbeat every second) before it gives up on
// the stream. It bounds silence, not the time a large frame takes.
const feedIdleTimeout = 3 * time.Second

// idleReader extends a connection's read deadline before every read, so
// the deadline bounds silence rather than a whole frame.
type idleReader struct {
	c       net.Conn
	timeout time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	r.c.SetReadDeadline(time.Now().Add(r.timeout))
	return r.c.Read(p)
}

// newIdleReader returns a reader of c whose reads fail after timeout of
// silence.
func newIdleReader(c net.Conn, timeout time.Duration) io.Reader {
	return idleReader{c: c, timeout: timeout}
}

// feedHeader opens a feed/2 frame.
type feedHeader struct {
	LeaderID string     `json:"leader_id"`
	Term     uint64     `json:"term"`
	Error    *api.Error `json:"error,omitempty"`
	// Codec, when set, is the compression of the entries' data and of the
	// snapshot image ("zstd", see feedCodec); sizes are compressed sizes.
	Codec string `json:"codec,omitempty"`
	// Entries lists [index, size] of each entry whose data follows.
	Entries [][2]uint64 `json:"entries,omitempty"`
	// Snapshot describes the snapshot chunk that follows the entries.
	Snapshot *snapshotChunk `json:"snapshot,omitempty"`
}

// snapshotChunk is part of a snapshot image (state.Store.SnapshotJSON) of
// the state at Index, compressed as a whole when the frame has a codec:
// Size bytes from Offset, of Total.
type snapshotChunk struct {
	Index  uint64 `json:"index"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	Total  int64  `json:"total"`
}

// feedFrame2 is a decoded feed/2 frame. Entries' data and Chunk alias the
// frame's buffer.
type feedFrame2 struct {
	feedHeader
	Data  []state.Entry
	Chunk []byte
}

// writeFeedFrame writes one frame through w (a buffered writer the caller
// flushes).
func writeFeedFrame(w *bufio.Writer, h feedHeader, entries []state.Entry, chunk []byte) error {
	h.Entries = h.Entries[:0]
	data := 0
	for _, e := range entries {
		h.Entries = append(h.Entries, [2]uint64{e.Index, uint64(len(e.Data))})
		data += len(e.Data)
	}
	if h.Snapshot != nil {
		h.Snapshot.Size = int64(len(chunk))
		data += len(chunk)
	}
	hdr, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode feed header: %w", err)
	}
	total := 4 + len(hdr) + data
	if total > maxFeedFrame {
		return fmt.Errorf("feed frame of %d bytes exceeds limit of %d bytes", total, maxFeedFrame)
	}
	var lens [8]byte
	binary.BigEndian.PutUint32(lens[:4], uint32(total))
	binary.BigEndian.PutUint32(lens[4:], uint32(len(hdr)))
	w.Write(lens[:])
	w.Write(hdr)
	for _, e := range entries {
		w.Write(e.Data)
	}
	_, err = w.Write(chunk)
	return err
}

// readFeedFrame reads one frame of at most max bytes.
func readFeedFrame(r io.Reader, max int) (*feedFrame2, error) {
	return readFeedFrameInto(r, max, nil)
}

// readFeedFrameInto is readFeedFrame reading the frame into *buf (grown
// when too small, and kept for the next frame) when buf is not nil: the
// frame's entries and chunk are only good until then.
func readFeedFrameInto(r io.Reader, max int, reuse *[]byte) (*feedFrame2, error) {
	var lens [4]byte
	if _, err := io.ReadFull(r, lens[:]); err != nil {
		return nil, fmt.Errorf("read feed frame: %w", err)
	}
	total := int(binary.BigEndian.Uint32(lens[:]))
	if total > max || total < 4 {
		return nil, fmt.Errorf("feed frame of %d bytes is outside 4..%d", total, max)
	}
	var buf []byte
	switch {
	case reuse == nil:
		buf = make([]byte, total)
	case cap(*reuse) >= total:
		buf = (*reuse)[:total]
	default:
		buf = make([]byte, total)
		*reuse = buf
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("read feed frame: %w", err)
	}
	return decodeFeedFrame(buf)
}

// decodeFeedFrame parses a frame body (after the frame length).
func decodeFeedFrame(buf []byte) (*feedFrame2, error) {
	if len(buf) < 4 {
		return nil, errors.New("feed frame: too short")
	}
	hlen := int(binary.BigEndian.Uint32(buf[:4]))
	if hlen > len(buf)-4 {
		return nil, fmt.Errorf("feed frame: header of %d bytes in a %d-byte frame", hlen, len(buf))
	}
	f := &feedFrame2{}
	if err := json.Unmarshal(buf[4:4+hlen], &f.feedHeader); err != nil {
		return nil, fmt.Errorf("feed frame header: %w", err)
	}
	rest := buf[4+hlen:]
	for _, e := range f.Entries {
		if e[1] > uint64(len(rest)) {
			return nil, fmt.Errorf("feed frame: entry %d of %d bytes overruns the frame", e[0], e[1])
		}
		f.Data = append(f.Data, state.Entry{Index: e[0], Data: rest[:e[1]:e[1]]})
		rest = rest[e[1]:]
	}
	if f.Snapshot != nil {
		s := f.Snapshot
		if s.Size != int64(len(rest)) || s.Offset < 0 || s.Total < 0 || s.Offset+s.Size > s.Total {
			return nil, fmt.Errorf("feed frame: bad snapshot chunk %d+%d of %d with %d bytes left", s.Offset, s.Size, s.Total, len(rest))
		}
		f.Chunk = rest
	} else if len(rest) != 0 {
		return nil, fmt.Errorf("feed frame: %d stray bytes", len(rest))
	}
	return f, nil
}

// cutEntries returns the longest prefix of entries holding at most max
// bytes of data, but at least one entry.
func cutEntries(entries []state.Entry, max int) []state.Entry {
	size := 0
	for i, e := range entries {
		size += len(e.Data)
		if size > max && i > 0 {
			return entries[:i]
		}
	}
	return entries
}

// unpackFrame decompresses a frame's entries in place.
func unpackFrame(f *feedFrame2) error {
	switch f.Codec {
	case "":
		return nil
	case feedCodec:
	default:
		return fmt.Errorf("state feed: unknown codec %q", f.Codec)
	}
	for i := range f.Data {
		data, err := unpack(f.Data[i].Data)
		if err != nil {
			return fmt.Errorf("entry %d: %w", f.Data[i].Index, err)
		}
		f.Data[i].Data = data
	}
	return nil
}

// unpackImage decompresses an assembled snapshot image.
func unpackImage(codec string, img []byte) ([]byte, error) {
	switch codec {
	case "":
		return img, nil
	case feedCodec:
		return unpack(img)
	}
	return nil, fmt.Errorf("state feed: unknown codec %q", codec)
}
