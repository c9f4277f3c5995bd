package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/hashicorp/go-memdb"
)

// A backup file (`shoal operator snapshot save`) is the cluster state as
// one self-checking file:
//
//	SHOAL-SNAPSHOT 1\n         magic and format version
//	sha256:<64 hex digits>\n   SHA-256 of everything after this line
//	{"index":...}\n            BackupHeader as one JSON line
//	<body>                     the FSM snapshot stream (fsm_snapshot.go)
//
// Why this shape: the first line is plain text, so `head -1` tells what a
// file is and a reader refuses a foreign file or another format version
// before it parses anything. The checksum comes before what it covers so
// that the reader knows it before reading on, and it covers the header as
// well as the body: a flipped bit in the index, term or cluster ID is as
// wrong as one in a service. SHA-256 rather than a CRC because the file
// travels between machines and operators (it can be compared with
// `sha256sum`-style records), and because the reader must refuse any
// damaged file, not just likely ones. The header's body size tells a
// truncated file from a corrupt one; its counts and index are checked again
// against the decoded body. The body is the same stream Raft snapshots use,
// so a backup is restored by the code that restores Raft snapshots.
//
// The body holds the cluster's signing key: files are written with mode
// 0600.

// BackupFormat is the backup file format this build writes and reads.
const BackupFormat = 1

const backupMagic = "SHOAL-SNAPSHOT"

// MaxBackupSize bounds the backup files this build reads (the state lives
// in memory, so a larger file cannot be a valid one).
const MaxBackupSize = 1 << 30

// BackupHeader describes a backup.
type BackupHeader struct {
	// Index is the Raft index the state reflects.
	Index uint64 `json:"index"`
	// Term is the Raft term in which the backup was taken.
	Term      uint64    `json:"term"`
	ClusterID string    `json:"cluster_id"`
	CreatedAt time.Time `json:"created_at"`
	// Counts are the rows of each kind in the body.
	Counts BackupCounts `json:"counts"`
	// BodyBytes is the size of the body.
	BodyBytes int64 `json:"body_bytes"`
}

// BackupCounts counts the rows of each kind in a backup.
type BackupCounts struct {
	Nodes    int `json:"nodes"`
	Services int `json:"services"`
	Tasks    int `json:"tasks"`
	Images   int `json:"images"`
	Requests int `json:"requests"`
}

// Backup is a backup file that was read and fully verified.
type Backup struct {
	Header BackupHeader
	// Size is the size of the whole file; SHA256 its checksum (hex).
	Size   int
	SHA256 string
	// db is the decoded state.
	db *memdb.MemDB
}

// EncodeBackup makes a backup file of the store as it is now. term is the
// current Raft term, now the creation time.
func (s *Store) EncodeBackup(term uint64, now time.Time) ([]byte, BackupHeader, error) {
	v := s.View()
	c, ok := v.Cluster()
	if !ok {
		return nil, BackupHeader{}, errors.New("the store holds no cluster yet")
	}
	var body bytes.Buffer
	if err := (&Snapshot{view: v}).write(&body); err != nil {
		return nil, BackupHeader{}, err
	}
	h := BackupHeader{Index: v.Index(), Term: term, ClusterID: c.ID, CreatedAt: now.UTC(),
		Counts: countRows(v), BodyBytes: int64(body.Len())}
	return encodeBackup(h, body.Bytes()), h, nil
}

// encodeBackup assembles a file from a header and a body.
func encodeBackup(h BackupHeader, body []byte) []byte {
	hj, err := json.Marshal(h)
	if err != nil {
		panic(fmt.Sprintf("raft: encoding a backup header: %v", err)) // plain fields only
	}
	covered := make([]byte, 0, len(hj)+1+len(body))
	covered = append(append(append(covered, hj...), '\n'), body...)
	sum := sha256.Sum256(covered)
	var out bytes.Buffer
	fmt.Fprintf(&out, "%s %d\nsha256:%s\n", backupMagic, BackupFormat, hex.EncodeToString(sum[:]))
	out.Write(covered)
	return out.Bytes()
}

// ReadBackup reads and verifies a whole backup file: magic, format
// version, checksum, header, and every row of the body (decoded into a
// fresh state, as a restore would). Errors are one line.
func ReadBackup(r io.Reader) (*Backup, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBackupSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the snapshot file: %v", err)
	}
	if len(data) > MaxBackupSize {
		return nil, fmt.Errorf("file is larger than %d bytes: not a shoal snapshot", MaxBackupSize)
	}
	return DecodeBackup(data)
}

// DecodeBackup verifies and decodes a backup file held in memory.
func DecodeBackup(data []byte) (*Backup, error) {
	if len(data) == 0 {
		return nil, errors.New("file is empty: not a shoal snapshot")
	}
	line1, rest, ok := cutLine(data, 64)
	magic, ver, _ := bytes.Cut(line1, []byte(" "))
	if !ok || string(magic) != backupMagic {
		return nil, errors.New("not a shoal snapshot file (it does not start with " + backupMagic + ")")
	}
	format, err := strconv.Atoi(string(ver))
	if err != nil {
		return nil, fmt.Errorf("snapshot format version %q is unreadable", ver)
	}
	if format != BackupFormat {
		return nil, fmt.Errorf("snapshot file format %d is not supported by this build (it reads format %d)", format, BackupFormat)
	}
	line2, covered, ok := cutLine(rest, 128)
	hexSum, isSum := bytes.CutPrefix(line2, []byte("sha256:"))
	want, herr := hex.DecodeString(string(hexSum))
	if !ok || !isSum || herr != nil || len(want) != sha256.Size {
		return nil, errors.New("snapshot checksum line is missing or damaged")
	}
	hline, body, hasHeader := cutLine(covered, 64<<10)
	var h BackupHeader
	headerErr := errors.New("no header line")
	if hasHeader {
		headerErr = json.Unmarshal(hline, &h)
	}
	got := sha256.Sum256(covered)
	if !bytes.Equal(got[:], want) {
		if headerErr == nil && int64(len(body)) < h.BodyBytes {
			return nil, fmt.Errorf("snapshot is truncated: its body has %d of %d bytes", len(body), h.BodyBytes)
		}
		if !hasHeader {
			return nil, errors.New("snapshot is truncated: it ends inside its header")
		}
		return nil, errors.New("snapshot checksum does not match: the file is corrupt")
	}
	switch {
	case headerErr != nil:
		return nil, fmt.Errorf("snapshot header is unreadable: %v", headerErr)
	case int64(len(body)) != h.BodyBytes:
		return nil, fmt.Errorf("snapshot body has %d bytes, its header says %d", len(body), h.BodyBytes)
	}
	db, index, err := readSnapshot(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("snapshot body: %v", err)
	}
	v := &View{txn: db.Txn(false), index: index}
	c, ok := v.Cluster()
	switch {
	case index != h.Index:
		return nil, fmt.Errorf("snapshot body is at index %d, its header says %d", index, h.Index)
	case !ok || c.ID != h.ClusterID:
		return nil, fmt.Errorf("snapshot body does not hold cluster %s named in its header", h.ClusterID)
	case countRows(v) != h.Counts:
		return nil, fmt.Errorf("snapshot body holds %+v, its header says %+v", countRows(v), h.Counts)
	}
	return &Backup{Header: h, Size: len(data), SHA256: hex.EncodeToString(got[:]), db: db}, nil
}

// cutLine splits b after its first newline, which must come within max
// bytes; ok is false if there is none.
func cutLine(b []byte, max int) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b[:min(len(b), max+1)], '\n')
	if i < 0 {
		return nil, b, false
	}
	return b[:i], b[i+1:], true
}

// countRows counts the rows of each kind in v.
func countRows(v *View) BackupCounts {
	return BackupCounts{Nodes: len(v.Nodes()), Services: len(v.Services()), Tasks: len(v.Tasks()),
		Images: len(v.Images()), Requests: countTable(v, tableRequests)}
}

func countTable(v *View, table string) int {
	it, err := v.txn.Get(table, indexID)
	if err != nil {
		return 0
	}
	n := 0
	for o := it.Next(); o != nil; o = it.Next() {
		n++
	}
	return n
}
