package blobs

import (
	"net"
	"time"
)

// maxHeaderFrame bounds the request and response frames.
const maxHeaderFrame = 64 << 10

// request asks for blob Digest from byte Offset on.
type request struct {
	Digest string `json:"digest"`
	Offset int64  `json:"offset"`
}

// response precedes the blob bytes; with Error set no bytes follow.
type response struct {
	Size  int64  `json:"size"`
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

// Response error codes.
const (
	codeNotFound = "not_found"
	codeInvalid  = "invalid"
	codeInternal = "internal"
)

// copyBufSize is the chunk size of blob transfers.
const copyBufSize = 256 << 10

// deadlineRefresh is how stale an idle deadline may get before it is moved
// forward; refreshing on every chunk would cost a timer reset per chunk.
const deadlineRefresh = time.Second

// idleDeadline keeps a read or write deadline about timeout ahead of now,
// so a transfer fails only after timeout without progress.
type idleDeadline struct {
	set     func(time.Time) error
	timeout time.Duration
	last    time.Time
}

// touch moves the deadline forward if it was last set over a second ago.
func (d *idleDeadline) touch() {
	now := time.Now()
	if now.Sub(d.last) < deadlineRefresh {
		return
	}
	d.last = now
	_ = d.set(now.Add(d.timeout))
}

// resetConn aborts c: a libp2p stream is reset, anything else closed.
func resetConn(c net.Conn) {
	if r, ok := c.(interface{ Reset() error }); ok {
		_ = r.Reset()
		return
	}
	_ = c.Close()
}
