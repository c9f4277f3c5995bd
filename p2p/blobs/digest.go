package blobs

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// digest is a parsed, validated content digest.
type digest struct {
	algo string
	hex  string
}

// algorithms maps a digest algorithm to its hash and hex length.
var algorithms = map[string]struct {
	newHash func() hash.Hash
	hexLen  int
}{
	"sha256": {sha256.New, 64},
	"sha512": {sha512.New, 128},
}

// parseDigest validates s as "sha256:<64 lowercase hex>" or
// "sha512:<128 lowercase hex>".
func parseDigest(s string) (digest, error) {
	algo, hx, ok := strings.Cut(s, ":")
	if !ok {
		return digest{}, fmt.Errorf("digest %q: missing algorithm prefix", clip(s))
	}
	a, known := algorithms[algo]
	if !known {
		return digest{}, fmt.Errorf("digest %q: unsupported algorithm %q", clip(s), clip(algo))
	}
	if len(hx) != a.hexLen {
		return digest{}, fmt.Errorf("digest %q: %s needs %d hex characters, got %d", clip(s), algo, a.hexLen, len(hx))
	}
	for i := 0; i < len(hx); i++ {
		c := hx[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return digest{}, fmt.Errorf("digest %q: invalid hex character %q", clip(s), c)
		}
	}
	return digest{algo: algo, hex: hx}, nil
}

// String returns "algo:hex".
func (d digest) String() string { return d.algo + ":" + d.hex }

// newHash returns a fresh hash for d's algorithm.
func (d digest) newHash() hash.Hash { return algorithms[d.algo].newHash() }

// sum formats h's sum as a digest string of d's algorithm.
func (d digest) sum(h hash.Hash) string { return d.algo + ":" + hex.EncodeToString(h.Sum(nil)) }

// clip shortens s for error messages.
func clip(s string) string {
	const max = 140
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
