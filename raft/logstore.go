package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	hraft "github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// LogStore is a hraft.LogStore and hraft.StableStore in one bolt file:
// bucket "logs" maps big-endian uint64 indexes to encoded entries, bucket
// "stable" holds raft's key/value state. Every write is one transaction
// with one commit (fsync). It is safe for concurrent use.
type LogStore struct {
	db *bolt.DB
}

var (
	bucketLogs   = []byte("logs")
	bucketStable = []byte("stable")
)

// ErrKeyNotFound is returned by Get and GetUint64 for a key never set.
// hashicorp/raft recognises a missing key by this exact message.
var ErrKeyNotFound = errors.New("not found")

// logStoreLockTimeout bounds the wait for the file lock another process
// holds.
const logStoreLockTimeout = 2 * time.Second

var (
	_ hraft.LogStore    = (*LogStore)(nil)
	_ hraft.StableStore = (*LogStore)(nil)
)

// OpenLogStore opens (or creates, mode 0600) the bolt file at path. The
// parent directory must exist. A file locked by another process fails
// after a short wait with "data dir is in use by another shoal agent".
func OpenLogStore(path string) (*LogStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        logStoreLockTimeout,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("raft log store %s: data dir is in use by another shoal agent (file still locked after %v)", path, logStoreLockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("raft log store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketLogs, bucketStable} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("raft log store %s: creating buckets: %w", path, err)
	}
	return &LogStore{db: db}, nil
}

// Close closes the file and releases its lock.
func (s *LogStore) Close() error { return s.db.Close() }

// FirstIndex returns the lowest stored index, or 0 if there is none.
func (s *LogStore) FirstIndex() (uint64, error) {
	return s.edgeIndex(func(c *bolt.Cursor) []byte { k, _ := c.First(); return k })
}

// LastIndex returns the highest stored index, or 0 if there is none.
func (s *LogStore) LastIndex() (uint64, error) {
	return s.edgeIndex(func(c *bolt.Cursor) []byte { k, _ := c.Last(); return k })
}

func (s *LogStore) edgeIndex(pick func(*bolt.Cursor) []byte) (idx uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if k := pick(tx.Bucket(bucketLogs).Cursor()); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// GetLog fills out with the entry at index, or returns
// hraft.ErrLogNotFound.
func (s *LogStore) GetLog(index uint64, out *hraft.Log) error {
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], index)
	var val []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketLogs).Get(key[:]); v != nil {
			val = append([]byte(nil), v...) // v lives only as long as tx
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("raft log store: reading entry %d: %w", index, err)
	}
	if val == nil {
		return hraft.ErrLogNotFound
	}
	if err := decodeLog(val, out); err != nil {
		return fmt.Errorf("raft log store: entry %d: %w", index, err)
	}
	if out.Index != index {
		return fmt.Errorf("raft log store: entry %d: holds index %d", index, out.Index)
	}
	return nil
}

// StoreLog stores one entry.
func (s *LogStore) StoreLog(l *hraft.Log) error { return s.StoreLogs([]*hraft.Log{l}) }

// StoreLogs stores a batch of entries in one transaction, replacing any
// entry already at the same index.
func (s *LogStore) StoreLogs(logs []*hraft.Log) error {
	// bolt keeps the key and value slices until commit, so each entry gets
	// its own region of two batch-wide buffers.
	keys := make([]byte, 8*len(logs))
	size := 0
	for _, l := range logs {
		size += maxEncodedLogSize(l)
	}
	vals := make([]byte, 0, size)
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLogs)
		for i, l := range logs {
			key := keys[8*i : 8*i+8 : 8*i+8]
			binary.BigEndian.PutUint64(key, l.Index)
			start := len(vals)
			vals = appendLog(vals, l)
			if err := b.Put(key, vals[start:len(vals):len(vals)]); err != nil {
				return fmt.Errorf("raft log store: storing entry %d: %w", l.Index, err)
			}
		}
		return nil
	})
}

// DeleteRange deletes the entries from min to max, both included.
func (s *LogStore) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	var from [8]byte
	binary.BigEndian.PutUint64(from[:], min)
	return s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLogs).Cursor()
		// Re-seek after each delete: Cursor.Delete followed by Next can
		// skip a key (etcd-io/bbolt#146).
		for k, _ := c.Seek(from[:]); k != nil && binary.BigEndian.Uint64(k) <= max; k, _ = c.Seek(from[:]) {
			if err := c.Delete(); err != nil {
				return fmt.Errorf("raft log store: deleting entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
		}
		return nil
	})
}

// Set stores val under key.
func (s *LogStore) Set(key, val []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketStable).Put(key, val) })
}

// Get returns the value under key, or ErrKeyNotFound.
func (s *LogStore) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketStable).Get(key); v != nil {
			val = append([]byte{}, v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("raft stable store: reading key %q: %w", key, err)
	}
	if val == nil {
		return nil, ErrKeyNotFound
	}
	return val, nil
}

// SetUint64 stores val under key as 8 big-endian bytes.
func (s *LogStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the number under key, or ErrKeyNotFound.
func (s *LogStore) GetUint64(key []byte) (uint64, error) {
	val, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(val) != 8 {
		return 0, fmt.Errorf("raft stable store: key %q holds %d bytes, want 8", key, len(val))
	}
	return binary.BigEndian.Uint64(val), nil
}

// logFormatV1 is the first byte of every encoded entry. The rest is:
// uvarint Index, uvarint Term, byte Type, uvarint length + Data, uvarint
// length + Extensions, varint AppendedAt Unix seconds, uvarint
// nanoseconds.
const logFormatV1 = 1

// zeroUnix is the Unix time of the zero time.Time, which decodes back to
// time.Time{}.
var zeroUnix = time.Time{}.Unix()

// maxEncodedLogSize bounds the encoded size of l.
func maxEncodedLogSize(l *hraft.Log) int {
	return 1 + 5*binary.MaxVarintLen64 + 1 + len(l.Data) + len(l.Extensions)
}

// appendLog appends the encoding of l to buf.
func appendLog(buf []byte, l *hraft.Log) []byte {
	buf = append(buf, logFormatV1)
	buf = binary.AppendUvarint(buf, l.Index)
	buf = binary.AppendUvarint(buf, l.Term)
	buf = append(buf, byte(l.Type))
	buf = binary.AppendUvarint(buf, uint64(len(l.Data)))
	buf = append(buf, l.Data...)
	buf = binary.AppendUvarint(buf, uint64(len(l.Extensions)))
	buf = append(buf, l.Extensions...)
	buf = binary.AppendVarint(buf, l.AppendedAt.Unix())
	return binary.AppendUvarint(buf, uint64(l.AppendedAt.Nanosecond()))
}

// decodeLog decodes buf into out. Data and Extensions alias buf.
func decodeLog(buf []byte, out *hraft.Log) error {
	if len(buf) == 0 {
		return errors.New("empty record")
	}
	if buf[0] != logFormatV1 {
		return fmt.Errorf("unknown record format %d (want %d)", buf[0], logFormatV1)
	}
	d := logDecoder{buf: buf, off: 1}
	index := d.uvarint("index")
	term := d.uvarint("term")
	typ := d.bytes("type", 1)
	data := d.bytes("data", d.uvarint("data length"))
	ext := d.bytes("extensions", d.uvarint("extensions length"))
	sec := d.varint("appended-at seconds")
	nsec := d.uvarint("appended-at nanoseconds")
	switch {
	case d.err != nil:
		return d.err
	case d.off != len(buf):
		return fmt.Errorf("%d trailing bytes", len(buf)-d.off)
	case nsec >= uint64(time.Second):
		return fmt.Errorf("appended-at nanoseconds %d out of range", nsec)
	}
	*out = hraft.Log{Index: index, Term: term, Type: hraft.LogType(typ[0]), Data: data, Extensions: ext}
	if sec != zeroUnix || nsec != 0 {
		out.AppendedAt = time.Unix(sec, int64(nsec))
	}
	return nil
}

// logDecoder reads fields off buf, keeping the first error.
type logDecoder struct {
	buf []byte
	off int
	err error
}

func (d *logDecoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.err = fmt.Errorf("bad or truncated %s at byte %d", field, d.off)
		return 0
	}
	d.off += n
	return v
}

func (d *logDecoder) varint(field string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		d.err = fmt.Errorf("bad or truncated %s at byte %d", field, d.off)
		return 0
	}
	d.off += n
	return v
}

// bytes returns the next n bytes (nil when n is 0), capped so appending
// to them cannot overwrite what follows.
func (d *logDecoder) bytes(field string, n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.buf)-d.off) {
		d.err = fmt.Errorf("%s of %d bytes runs past the end of the %d-byte record", field, n, len(d.buf))
		return nil
	}
	if n == 0 {
		return nil
	}
	end := d.off + int(n)
	b := d.buf[d.off:end:end]
	d.off = end
	return b
}
