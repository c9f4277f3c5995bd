package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// MaxMetaSize is the largest encoded Meta that Shoal gossips. memberlist
// panics above 512 bytes; the margin leaves room for future fields.
const MaxMetaSize = 400

// metaVersion is the first byte of every encoded Meta.
const metaVersion = 1

// Meta is the node metadata gossiped with each member.
type Meta struct {
	NodeID    string // libp2p peer ID of the node
	P2PPort   uint16 // libp2p listen port
	APIAddr   string // host:port of the node's HTTP API
	ClusterID string // identifier of the cluster the node belongs to
}

// Encode returns the compact binary form of m: a version byte, then each
// string as a uvarint length and its bytes, and P2PPort as two big-endian
// bytes. It refuses strings that are not valid UTF-8 and encodings longer
// than MaxMetaSize.
func (m Meta) Encode() ([]byte, error) {
	for _, f := range []struct{ name, v string }{
		{"NodeID", m.NodeID}, {"APIAddr", m.APIAddr}, {"ClusterID", m.ClusterID},
	} {
		if !utf8.ValidString(f.v) {
			return nil, fmt.Errorf("gossip: meta %s is not valid UTF-8", f.name)
		}
	}
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(m.NodeID)+len(m.APIAddr)+len(m.ClusterID)+2)
	b = append(b, metaVersion)
	b = appendString(b, m.NodeID)
	b = binary.BigEndian.AppendUint16(b, m.P2PPort)
	b = appendString(b, m.APIAddr)
	b = appendString(b, m.ClusterID)
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("gossip: meta encodes to %d bytes, over the %d-byte limit", len(b), MaxMetaSize)
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// DecodeMeta parses the output of Meta.Encode. Any malformed input yields
// an error naming the problem.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, errors.New("gossip: meta is empty")
	}
	if len(b) > MaxMetaSize {
		return m, fmt.Errorf("gossip: meta is %d bytes, over the %d-byte limit", len(b), MaxMetaSize)
	}
	if b[0] != metaVersion {
		return m, fmt.Errorf("gossip: meta version %d is not supported (want %d)", b[0], metaVersion)
	}
	d := metaDecoder{b: b[1:]}
	m.NodeID = d.str("NodeID")
	m.P2PPort = d.u16("P2PPort")
	m.APIAddr = d.str("APIAddr")
	m.ClusterID = d.str("ClusterID")
	if d.err != nil {
		return Meta{}, d.err
	}
	if len(d.b) != 0 {
		return Meta{}, fmt.Errorf("gossip: meta has %d trailing bytes", len(d.b))
	}
	return m, nil
}

// metaDecoder reads fields in order and keeps the first error.
type metaDecoder struct {
	b   []byte
	err error
}

func (d *metaDecoder) str(field string) string {
	if d.err != nil {
		return ""
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.err = fmt.Errorf("gossip: meta %s length is malformed", field)
		return ""
	}
	d.b = d.b[k:]
	if n > uint64(len(d.b)) {
		d.err = fmt.Errorf("gossip: meta %s length %d exceeds the %d bytes left", field, n, len(d.b))
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	if !utf8.ValidString(s) {
		d.err = fmt.Errorf("gossip: meta %s is not valid UTF-8", field)
		return ""
	}
	return s
}

func (d *metaDecoder) u16(field string) uint16 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 2 {
		d.err = fmt.Errorf("gossip: meta %s is truncated", field)
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}
