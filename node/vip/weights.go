package vip

import "github.com/shoal-project/shoal/node/endpoints"

// maxSlots bounds a weighted port's map: past it the shares are scaled
// down (rounded, each backend with a share keeping at least one slot).
const maxSlots = 1024

// Slots is the backend each key of a port's map leads to, the key being
// `numgen random mod len(slots)`: one slot per backend for an unweighted
// port (the map as it always was); for a weighted one
// (endpoints.Port.Shares), each backend's share of the slots, reduced by
// their greatest common divisor — 20% to 1 of 4 backends is 15 slots, 3
// of them the new backend's — so that a uniform random key splits new
// connections by weight. A backend without a share (an old one while
// the split is 100%) gets no slot: it takes no new connection.
func Slots(p endpoints.Port) []int {
	if !p.Weighted {
		out := make([]int, len(p.Backends))
		for i := range out {
			out[i] = i
		}
		return out
	}
	shares, total := p.Shares()
	g := 0
	for _, s := range shares {
		g = gcd(g, s)
	}
	if g > 1 {
		for i := range shares {
			shares[i] /= g
		}
		total /= g
	}
	if total > maxSlots {
		scaled := 0
		for i, s := range shares {
			if s > 0 {
				shares[i] = max(1, (s*maxSlots+total/2)/total)
			}
			scaled += shares[i]
		}
		total = scaled
	}
	out := make([]int, 0, total)
	for i, s := range shares {
		for range s {
			out = append(out, i)
		}
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
