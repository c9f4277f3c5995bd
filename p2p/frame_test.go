package p2p

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

type frameMsg struct {
	A string `json:"a"`
	B int    `json:"b"`
}

func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	in := []frameMsg{{"x", 1}, {"yy", 2}}
	for _, m := range in {
		if err := WriteFrame(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range in {
		var got frameMsg
		if err := ReadFrame(&buf, &got, 0); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

func frameBytes(n uint32, body string) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	return append(b, body...)
}

func TestReadFrameErrors(t *testing.T) {
	cases := []struct {
		name, want string
		data       []byte
		max        int
	}{
		{"oversize", "exceeds limit of 10 bytes", frameBytes(11, strings.Repeat("x", 11)), 10},
		{"oversize default", "exceeds limit", frameBytes(DefaultMaxFrameSize+1, ""), 0},
		{"empty", "empty frame", frameBytes(0, ""), 0},
		{"short header", "truncated length header", []byte{0, 0}, 0},
		{"short body", "truncated body, got 2 of 5 bytes", frameBytes(5, "{}"), 0},
		{"bad json", "decode frame", frameBytes(3, "{x}"), 0},
		{"no data", "EOF", nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v frameMsg
			err := ReadFrame(bytes.NewReader(c.data), &v, c.max)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want error containing %q", err, c.want)
			}
		})
	}
}

func TestWriteFrameErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, make(chan int)); err == nil || !strings.Contains(err.Error(), "encode frame") {
		t.Fatalf("got %v, want an encode error", err)
	}
	if err := WriteFrame(&buf, strings.Repeat("x", DefaultMaxFrameSize)); err == nil || !strings.Contains(err.Error(), "exceeds limit") {
		t.Fatalf("got %v, want a size error", err)
	}
	if buf.Len() != 0 {
		t.Fatal("a failed WriteFrame wrote bytes")
	}
}

func FuzzReadFrame(f *testing.F) {
	var ok bytes.Buffer
	WriteFrame(&ok, map[string]any{"method": "m", "body": []int{1, 2}})
	f.Add(ok.Bytes())
	f.Add(frameBytes(0, ""))
	f.Add(frameBytes(2, "{}"))
	f.Add(frameBytes(1<<31, "{}"))
	f.Add(frameBytes(4, "nul"))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v map[string]any
		err := ReadFrame(bytes.NewReader(data), &v, 1<<16)
		if err != nil {
			return
		}
		// A frame that decoded must survive a write/read round trip.
		var buf bytes.Buffer
		if err := WriteFrame(&buf, v); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var w map[string]any
		if err := ReadFrame(&buf, &w, 0); err != nil {
			t.Fatalf("re-read: %v", err)
		}
	})
}
