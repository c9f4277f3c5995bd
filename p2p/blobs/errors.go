package blobs

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is wrapped by errors from a peer that does not have the blob.
var ErrNotFound = errors.New("blob not found")

// DigestError reports bytes from Peer that hashed to Got instead of Want.
type DigestError struct {
	Peer string
	Want string
	Got  string
}

// Error names the peer and both digests.
func (e *DigestError) Error() string {
	return fmt.Sprintf("blob from peer %s: digest mismatch: want %s, got %s", e.Peer, e.Want, e.Got)
}

// FetchError reports that no peer could serve blob Digest; Failures holds
// one error per peer tried, in order.
type FetchError struct {
	Digest   string
	Failures []error
}

// Error lists every peer's failure on one line.
func (e *FetchError) Error() string {
	msgs := make([]string, len(e.Failures))
	for i, err := range e.Failures {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("fetch %s: no peer could serve it: %s", e.Digest, strings.Join(msgs, "; "))
}

// Unwrap returns the per-peer failures, for errors.Is and errors.As.
func (e *FetchError) Unwrap() []error { return e.Failures }
