package state

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// backupOf encodes a backup of the bootstrapped harness's store.
func backupOf(t testing.TB, h *harness) []byte {
	t.Helper()
	b, _, err := h.fsm.store.EncodeBackup(7, t0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBackupRoundTrip(t *testing.T) {
	h := bootstrapped(t)
	h.ok(api.CmdWriteTasks, api.WriteTasksPayload{Create: []api.Task{newTask("t1", 1), newTask("t2", 2)}})
	data, hdr, err := h.fsm.store.EncodeBackup(7, t0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("SHOAL-SNAPSHOT 1\nsha256:")) {
		t.Fatalf("file starts with %q", data[:40])
	}
	b, err := DecodeBackup(data)
	if err != nil {
		t.Fatal(err)
	}
	want := BackupCounts{Nodes: 2, Services: 1, Tasks: 2}
	if b.Header.Counts.Nodes != want.Nodes || b.Header.Counts.Services != want.Services || b.Header.Counts.Tasks != want.Tasks {
		t.Fatalf("counts %+v, want %+v", b.Header.Counts, want)
	}
	if b.Header != hdr || b.Header.Index != h.index || b.Header.Term != 7 || b.Header.ClusterID != "cluster-1" || !b.Header.CreatedAt.Equal(t0) {
		t.Fatalf("header %+v (encoded %+v, index %d)", b.Header, hdr, h.index)
	}
	if b.Size != len(data) || len(b.SHA256) != 64 {
		t.Fatalf("size %d sha %q", b.Size, b.SHA256)
	}
	// The decoded state is the store's.
	v := &View{txn: b.db.Txn(false)}
	if s, ok := v.ServiceByName("web"); !ok || s.ID != "svc-web" {
		t.Fatalf("service web: %+v %v", s, ok)
	}
	if c, _ := v.Cluster(); !bytes.Equal(c.SigningKey, testCluster().SigningKey) {
		t.Fatal("signing key lost")
	}
}

func TestBackupRefusesDamagedFiles(t *testing.T) {
	good := backupOf(t, bootstrapped(t))
	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x20
		return b
	}
	headerAt := bytes.Index(good, []byte(`{"index"`))
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "file is empty"},
		{"foreign", []byte("{\"shoal_snapshot\":1,\"index\":3}\n"), "not a shoal snapshot file"},
		{"binary", bytes.Repeat([]byte{0}, 100), "not a shoal snapshot file"},
		{"other version", bytes.Replace(good, []byte("SHOAL-SNAPSHOT 1"), []byte("SHOAL-SNAPSHOT 2"), 1), "format 2 is not supported"},
		{"bad magic byte", flip(2), "not a shoal snapshot file"},
		{"bad checksum digit", flip(len("SHOAL-SNAPSHOT 1\nsha256:") + 3), "checksum"},
		{"header byte", flip(headerAt + 3), "checksum does not match"},
		{"body byte", flip(len(good) - 10), "checksum does not match"},
		{"truncated body", good[:len(good)-5], "truncated: its body has"},
		{"truncated header", good[:headerAt+5], "truncated"},
		{"truncated checksum", good[:20], "checksum line"},
		{"trailing data", append(append([]byte(nil), good...), "x"...), "checksum does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeBackup(c.data)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q, want one line containing %q", err, c.want)
			}
		})
	}
}

// TestBackupChecksOnlyWhatItSays: a file whose checksum matches but whose
// header disagrees with its body is refused too.
func TestBackupHeaderMustMatchBody(t *testing.T) {
	h := bootstrapped(t)
	var body bytes.Buffer
	if err := (&Snapshot{view: h.fsm.store.View()}).write(&body); err != nil {
		t.Fatal(err)
	}
	hdr := BackupHeader{Index: h.index + 1, ClusterID: "cluster-1", Counts: BackupCounts{Nodes: 2, Services: 1}, BodyBytes: int64(body.Len())}
	if _, err := DecodeBackup(encodeBackup(hdr, body.Bytes())); err == nil || !strings.Contains(err.Error(), "header says") {
		t.Fatalf("index mismatch: %v", err)
	}
	hdr.Index, hdr.ClusterID = h.index, "other"
	if _, err := DecodeBackup(encodeBackup(hdr, body.Bytes())); err == nil || !strings.Contains(err.Error(), "does not hold cluster other") {
		t.Fatalf("cluster mismatch: %v", err)
	}
	hdr.ClusterID, hdr.Counts.Tasks = "cluster-1", 9
	if _, err := DecodeBackup(encodeBackup(hdr, body.Bytes())); err == nil || !strings.Contains(err.Error(), "header says") {
		t.Fatalf("count mismatch: %v", err)
	}
}

// FuzzDecodeBackup: no input makes the reader panic, and whatever it
// accepts re-encodes to a file it accepts again.
func FuzzDecodeBackup(f *testing.F) {
	good := backupOf(f, bootstrapped(f))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("SHOAL-SNAPSHOT 1\nsha256:00\n{}\n"))
	f.Add([]byte("SHOAL-SNAPSHOT 9\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBackup(data)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if b.Size != len(data) {
			t.Fatalf("size %d of %d bytes", b.Size, len(data))
		}
	})
}
