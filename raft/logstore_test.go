package raft

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	hraft "github.com/hashicorp/raft"
)

// openTestLogStore opens a store in a fresh directory and closes it at the
// end of the test.
func openTestLogStore(t *testing.T) (*LogStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "raft.db")
	s, err := OpenLogStore(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// testEntry returns a command entry at index with a payload naming it.
func testEntry(index, term uint64) *hraft.Log {
	return &hraft.Log{Index: index, Term: term, Type: hraft.LogCommand, Data: []byte("entry-" + string(rune('a'+index%26)))}
}

func storeRange(t *testing.T, s *LogStore, from, to, term uint64) {
	t.Helper()
	var logs []*hraft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, testEntry(i, term))
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
}

// checkIndexes asserts First/LastIndex and that exactly the indexes in
// [first, last] are present among 1..limit.
func checkIndexes(t *testing.T, s *LogStore, first, last, limit uint64) {
	t.Helper()
	if got, err := s.FirstIndex(); err != nil || got != first {
		t.Errorf("FirstIndex = %d, %v; want %d", got, err, first)
	}
	if got, err := s.LastIndex(); err != nil || got != last {
		t.Errorf("LastIndex = %d, %v; want %d", got, err, last)
	}
	for i := uint64(1); i <= limit; i++ {
		var l hraft.Log
		err := s.GetLog(i, &l)
		want := first != 0 && i >= first && i <= last
		switch {
		case want && err != nil:
			t.Errorf("GetLog(%d): %v", i, err)
		case want && l.Index != i:
			t.Errorf("GetLog(%d) returned index %d", i, l.Index)
		case !want && !errors.Is(err, hraft.ErrLogNotFound):
			t.Errorf("GetLog(%d) = %v, want ErrLogNotFound", i, err)
		}
	}
}

func TestLogStoreRoundTripsEveryField(t *testing.T) {
	s, _ := openTestLogStore(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)
	in := []*hraft.Log{
		{Index: 1, Term: 1, Type: hraft.LogConfiguration, Data: []byte{0, 1, 2}, Extensions: []byte("ext"), AppendedAt: at},
		{Index: 2, Term: 1 << 40, Type: hraft.LogNoop},
		{Index: 3, Term: 7, Type: hraft.LogBarrier, Data: bytes.Repeat([]byte{0xff}, 70000), AppendedAt: time.Unix(0, 1)},
		{Index: 1<<63 + 5, Term: 9, Type: hraft.LogType(200), Extensions: []byte{9}, AppendedAt: time.Unix(-5, 0)},
	}
	if err := s.StoreLogs(in); err != nil {
		t.Fatal(err)
	}
	for _, want := range in {
		var got hraft.Log
		if err := s.GetLog(want.Index, &got); err != nil {
			t.Fatal(err)
		}
		if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type ||
			!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) ||
			!got.AppendedAt.Equal(want.AppendedAt) || got.AppendedAt.IsZero() != want.AppendedAt.IsZero() {
			t.Errorf("entry %d: got %+v, want %+v", want.Index, got, *want)
		}
	}
	var zero hraft.Log
	if err := s.GetLog(2, &zero); err != nil || zero.AppendedAt != (time.Time{}) {
		t.Errorf("zero AppendedAt came back as %v (%v)", zero.AppendedAt, err)
	}
}

func TestLogStoreBatchAndIndexes(t *testing.T) {
	s, _ := openTestLogStore(t)
	checkIndexes(t, s, 0, 0, 3)
	storeRange(t, s, 1, 50, 1)
	checkIndexes(t, s, 1, 50, 52)
	if err := s.StoreLog(testEntry(51, 2)); err != nil {
		t.Fatal(err)
	}
	checkIndexes(t, s, 1, 51, 52)
	// A batch replaces entries at the same index.
	storeRange(t, s, 40, 45, 3)
	var l hraft.Log
	if err := s.GetLog(42, &l); err != nil || l.Term != 3 {
		t.Errorf("overwritten entry 42: term %d, %v", l.Term, err)
	}
}

func TestLogStoreDeleteRange(t *testing.T) {
	cases := []struct {
		name        string
		min, max    uint64
		first, last uint64
		gone        []uint64
	}{
		{"prefix", 1, 30, 31, 100, nil},
		{"suffix", 71, 100, 1, 70, nil},
		{"suffix past the end", 71, ^uint64(0), 1, 70, nil},
		{"middle", 40, 60, 1, 100, []uint64{40, 50, 60}},
		{"all", 1, 100, 0, 0, nil},
		{"empty range", 60, 40, 1, 100, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := openTestLogStore(t)
			storeRange(t, s, 1, 100, 1)
			if err := s.DeleteRange(tc.min, tc.max); err != nil {
				t.Fatal(err)
			}
			if tc.gone == nil {
				checkIndexes(t, s, tc.first, tc.last, 102)
				return
			}
			for i := uint64(1); i <= 100; i++ {
				var l hraft.Log
				err := s.GetLog(i, &l)
				if deleted := i >= tc.min && i <= tc.max; deleted != errors.Is(err, hraft.ErrLogNotFound) {
					t.Errorf("GetLog(%d) = %v after deleting [%d, %d]", i, err, tc.min, tc.max)
				}
			}
		})
	}
}

func TestStableStore(t *testing.T) {
	s, _ := openTestLogStore(t)
	if _, err := s.Get([]byte("LastVoteCand")); err == nil || err.Error() != "not found" {
		t.Errorf("Get of a missing key: %v, want an error reading exactly \"not found\"", err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); v != 0 || err == nil || err.Error() != "not found" {
		t.Errorf("GetUint64 of a missing key: %d, %v; want 0 and \"not found\"", v, err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("node-a")); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-a" {
		t.Errorf("Get = %q, %v", v, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1<<50+3); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 1<<50+3 {
		t.Errorf("GetUint64 = %d, %v", v, err)
	}
	if _, err := s.GetUint64([]byte("LastVoteCand")); err == nil || !strings.Contains(err.Error(), "want 8") {
		t.Errorf("GetUint64 of a 6-byte value: %v", err)
	}
	// An empty value is still a value.
	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("empty")); err != nil || len(v) != 0 {
		t.Errorf("Get of an empty value = %q, %v", v, err)
	}
}

func TestLogStoreReopenKeepsEverything(t *testing.T) {
	s, path := openTestLogStore(t)
	storeRange(t, s, 1, 20, 1)
	if err := s.SetUint64([]byte("CurrentTerm"), 4); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode: %v, %v; want 0600", fi.Mode(), err)
	}
	s, err := OpenLogStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkIndexes(t, s, 1, 20, 22)
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 4 {
		t.Errorf("CurrentTerm after reopen = %d, %v", v, err)
	}
}

// The raft-wal v0.4.0 bug (hashicorp/raft-wal#31): clear a suffix, reopen,
// append over it.
func TestLogStoreSuffixDeleteReopenAppend(t *testing.T) {
	s, path := openTestLogStore(t)
	storeRange(t, s, 1, 30, 1)
	if err := s.DeleteRange(26, 30); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := OpenLogStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkIndexes(t, s, 1, 25, 31)
	storeRange(t, s, 26, 28, 2)
	checkIndexes(t, s, 1, 28, 31)
	var l hraft.Log
	if err := s.GetLog(27, &l); err != nil || l.Term != 2 {
		t.Errorf("entry 27 after append: term %d, %v; want 2", l.Term, err)
	}
}

func TestOpenLogStoreRefusesLockedFile(t *testing.T) {
	_, path := openTestLogStore(t)
	s, err := OpenLogStore(path)
	if err == nil {
		s.Close()
		t.Fatal("a second open of a locked store succeeded")
	}
	if !strings.Contains(err.Error(), "data dir is in use by another shoal agent") {
		t.Errorf("error = %v", err)
	}
}

func TestOpenLogStoreRefusesNonBoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not bolt "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenLogStore(path); err == nil {
		s.Close()
		t.Fatal("opened a file that is not a bolt database")
	}
}

func TestOpenRefusesRaftWALDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "raft", "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, trans := hraft.NewInmemTransport("x")
	_, err := Open(Config{DataDir: dir, LocalID: "x", Transport: trans})
	if err == nil || !strings.Contains(err.Error(), "older shoal build") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Open of a raft-wal data dir: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(dir, "raft", "raft.db")); !os.IsNotExist(serr) {
		t.Errorf("Open created raft.db next to the old log: %v", serr)
	}
}

func TestDecodeLogRejectsBadRecords(t *testing.T) {
	good := appendLog(nil, &hraft.Log{Index: 5, Term: 2, Data: []byte("abc"), Extensions: []byte("x"), AppendedAt: time.Unix(100, 5)})
	cases := map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-3],
		"trailing bytes": append(append([]byte(nil), good...), 0),
		"data too long":  {logFormatV1, 5, 2, 0, 100, 'a'},
		"bad nanos":      {logFormatV1, 1, 1, 0, 0, 0, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03},
	}
	for name, rec := range cases {
		var l hraft.Log
		if err := decodeLog(rec, &l); err == nil {
			t.Errorf("%s: decoded %+v", name, l)
		}
	}
	var l hraft.Log
	if err := decodeLog(good, &l); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeLog: decoding never panics, and whatever decodes re-encodes to
// the same bytes.
func FuzzDecodeLog(f *testing.F) {
	f.Add(appendLog(nil, testEntry(1, 1)))
	f.Add(appendLog(nil, &hraft.Log{Index: 1 << 62, Term: 3, Type: hraft.LogConfiguration, Extensions: []byte{1, 2}, AppendedAt: time.Unix(1e9, 999)}))
	f.Add([]byte{logFormatV1})
	f.Add([]byte{logFormatV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var l hraft.Log
		if err := decodeLog(rec, &l); err != nil {
			return
		}
		if again := appendLog(nil, &l); !bytes.Equal(again, rec) {
			// Varints have one canonical form per value, but Go's
			// decoder also accepts padded forms; compare the values.
			var l2 hraft.Log
			if err := decodeLog(again, &l2); err != nil || !reflect.DeepEqual(l, l2) {
				t.Fatalf("re-encoding %x gave %x (%v)", rec, again, err)
			}
		}
	})
}
