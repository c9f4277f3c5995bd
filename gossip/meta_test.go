package gossip

import (
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []Meta{
		{},
		testMeta("a"),
		{NodeID: "ü", P2PPort: 65535, APIAddr: "[::1]:443", ClusterID: "c"},
	} {
		b, err := m.Encode()
		if err != nil {
			t.Fatalf("Encode(%+v): %v", m, err)
		}
		got, err := DecodeMeta(b)
		if err != nil || got != m {
			t.Fatalf("DecodeMeta(Encode(%+v)) = %+v, %v", m, got, err)
		}
	}
}

func TestMetaSizeLimit(t *testing.T) {
	// Overhead: version 1 + three 1-byte lengths (under 128 each) or 2-byte
	// lengths; size NodeID to hit the limit exactly.
	base := Meta{P2PPort: 1, APIAddr: strings.Repeat("a", 100), ClusterID: strings.Repeat("c", 100)}
	fixed := 1 + 2 + (1 + 100) + (1 + 100) + 2 // NodeID length takes 2 bytes (>127)
	base.NodeID = strings.Repeat("n", MaxMetaSize-fixed)
	b, err := base.Encode()
	if err != nil || len(b) != MaxMetaSize {
		t.Fatalf("meta of exactly %d bytes: len %d, err %v", MaxMetaSize, len(b), err)
	}
	base.NodeID += "n"
	if _, err := base.Encode(); err == nil || !strings.Contains(err.Error(), "401 bytes") {
		t.Fatalf("meta of %d bytes: err = %v, want size error", MaxMetaSize+1, err)
	}
	if _, err := (Meta{APIAddr: strings.Repeat("x", 5000)}).Encode(); err == nil {
		t.Fatal("5000-byte meta was accepted")
	}
}

func TestMetaRejectsBadInput(t *testing.T) {
	good, _ := testMeta("a").Encode()
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"empty":        {nil, "empty"},
		"version":      {[]byte{2, 0, 0, 0, 0, 0}, "version 2"},
		"truncated":    {good[:len(good)-1], "exceeds"},
		"no port":      {[]byte{1, 0, 9}, "P2PPort is truncated"},
		"bad length":   {[]byte{1, 0x80}, "NodeID length is malformed"},
		"huge length":  {[]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f}, "NodeID length"},
		"trailing":     {append(append([]byte(nil), good...), 0), "1 trailing bytes"},
		"invalid utf8": {[]byte{1, 1, 0xff, 0, 0, 0, 0}, "not valid UTF-8"},
		"too long":     {append([]byte{1}, make([]byte, MaxMetaSize)...), "over the 400-byte limit"},
	}
	for name, c := range cases {
		_, err := DecodeMeta(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, c.want)
		}
	}
	if _, err := (Meta{NodeID: "\xff"}).Encode(); err == nil {
		t.Error("Encode accepted invalid UTF-8")
	}
}

func FuzzDecodeMeta(f *testing.F) {
	good, _ := testMeta("seed").Encode()
	empty, _ := Meta{}.Encode()
	for _, s := range [][]byte{good, empty, nil, {1}, {1, 0x80}, {2, 0, 0, 0, 0, 0}, append(good, 7)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		again, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", m, err)
		}
		m2, err := DecodeMeta(again)
		if err != nil || m2 != m {
			t.Fatalf("re-decode = %+v, %v; want %+v", m2, err, m)
		}
	})
}
