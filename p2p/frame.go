package p2p

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrameSize is the largest frame ReadFrame accepts when given a
// non-positive limit, and the largest frame WriteFrame writes.
const DefaultMaxFrameSize = 16 << 20

// WriteFrame writes v as one frame: a big-endian uint32 length followed by
// that many bytes of JSON.
func WriteFrame(w io.Writer, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if len(body) > DefaultMaxFrameSize {
		return fmt.Errorf("frame of %d bytes exceeds limit of %d bytes", len(body), DefaultMaxFrameSize)
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ReadFrame reads one frame written by WriteFrame and decodes its JSON into
// v. Frames longer than maxSize (DefaultMaxFrameSize if maxSize <= 0) are
// refused before their body is read.
func ReadFrame(r io.Reader, v any, maxSize int) error {
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return errors.New("read frame: truncated length header")
		}
		return fmt.Errorf("read frame: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(maxSize) {
		return fmt.Errorf("frame of %d bytes exceeds limit of %d bytes", n, maxSize)
	}
	if n == 0 {
		return errors.New("read frame: empty frame")
	}
	// Grow the buffer as data arrives rather than trusting the length.
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, r, int64(n))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("read frame: truncated body, got %d of %d bytes", got, n)
		}
		return fmt.Errorf("read frame: %w", err)
	}
	if err := json.Unmarshal(buf.Bytes(), v); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}
