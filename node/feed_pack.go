package node

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/shoal-project/shoal/state"
)

// feedCodec is the codec feed/2 frames compress entries and snapshot
// images with. Command entries are JSON in which every task repeats its
// service's spec, so they shrink several times over; the leader compresses
// each entry once, whatever the number of members it feeds.
const feedCodec = "zstd"

// maxUnpacked bounds what one packed entry or image may expand to.
const maxUnpacked = 1 << 30

var (
	feedEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	feedDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxUnpacked), zstd.WithDecoderConcurrency(0))
)

// packedEntries caches the compressed form of recent entries, so that
// every member's frame reuses it.
type packedEntries struct {
	mu    sync.Mutex
	byIdx map[uint64][]byte
	order []uint64 // indexes in insertion order, for eviction
	limit int
}

func newPackedEntries(limit int) *packedEntries {
	return &packedEntries{byIdx: map[uint64][]byte{}, limit: limit}
}

// pack returns entries with their data compressed, compressing each entry
// at most once while it stays cached.
func (p *packedEntries) pack(entries []state.Entry) []state.Entry {
	out := make([]state.Entry, len(entries))
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, e := range entries {
		b, ok := p.byIdx[e.Index]
		if !ok {
			b = feedEncoder.EncodeAll(e.Data, make([]byte, 0, len(e.Data)/4))
			p.byIdx[e.Index] = b
			p.order = append(p.order, e.Index)
			if len(p.order) > p.limit {
				drop := len(p.order) - p.limit
				for _, idx := range p.order[:drop] {
					delete(p.byIdx, idx)
				}
				p.order = append(p.order[:0], p.order[drop:]...)
			}
		}
		out[i] = state.Entry{Index: e.Index, Data: b}
	}
	return out
}

// unpack decompresses data packed by pack or packImage.
func unpack(data []byte) ([]byte, error) {
	out, err := feedDecoder.DecodeAll(data, nil)
	if err != nil {
		return nil, fmt.Errorf("state feed: unpacking: %w", err)
	}
	return out, nil
}

// packImage compresses a snapshot image.
func packImage(img []byte) []byte {
	return feedEncoder.EncodeAll(img, make([]byte, 0, len(img)/4))
}
