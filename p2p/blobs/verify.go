package blobs

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
)

// verifyReader reads exactly size bytes of blob want from a peer, hashing
// them; after the last byte it returns io.EOF only if the digest matches,
// and a *DigestError otherwise. Any failure is sticky and kept in err, so
// the caller can tell a peer failure from a store failure.
type verifyReader struct {
	r        io.Reader
	peer     string
	want     digest
	h        hash.Hash
	size     int64
	n        int64
	idle     *idleDeadline
	progress func(done int64)
	err      error
	verified bool
}

// Read implements io.Reader.
func (v *verifyReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.n == v.size {
		return 0, v.check()
	}
	if rest := v.size - v.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	v.idle.touch()
	n, err := v.r.Read(p)
	if n > 0 {
		v.h.Write(p[:n])
		v.n += int64(n)
		v.progress(v.n)
	}
	if v.n == v.size {
		if cerr := v.check(); cerr != io.EOF {
			return n, cerr
		}
		return n, nil
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			v.err = fmt.Errorf("peer %s ended the stream after %d of %d bytes of %s", v.peer, v.n, v.size, v.want)
		} else {
			v.err = fmt.Errorf("read %s from peer %s after %d of %d bytes: %w", v.want, v.peer, v.n, v.size, err)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				v.err = fmt.Errorf("read %s from peer %s: stalled after %d of %d bytes", v.want, v.peer, v.n, v.size)
			}
		}
		return n, v.err
	}
	return n, nil
}

// check compares the digest of all bytes read with want.
func (v *verifyReader) check() error {
	if v.verified {
		return io.EOF
	}
	if got := v.want.sum(v.h); got != v.want.String() {
		v.err = &DigestError{Peer: v.peer, Want: v.want.String(), Got: got}
		return v.err
	}
	v.verified = true
	return io.EOF
}
