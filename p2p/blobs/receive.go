package blobs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/shoal-project/shoal/p2p"
)

// attemptError is a failed attempt: peer says whether the peer is to blame
// (try the next one) or the local store is (give up).
type attemptError struct {
	err  error
	peer bool
}

// receive asks conn's peer for blob d and writes it to store through a
// verifyReader. size < 0 accepts any size the peer announces. total is
// called once the size is known. conn is closed on return.
func receive(ctx context.Context, conn net.Conn, peerName string, d digest, size int64, store BlobStore,
	stall time.Duration, total func(int64), progress func(int64)) *attemptError {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { resetConn(conn) })
	defer stop()
	peerErr := func(err error) *attemptError {
		if ctx.Err() != nil {
			return &attemptError{err: ctx.Err()}
		}
		return &attemptError{err: err, peer: true}
	}
	rd := &idleDeadline{set: conn.SetReadDeadline, timeout: stall}
	rd.touch()
	_ = conn.SetWriteDeadline(time.Now().Add(stall))
	if err := p2p.WriteFrame(conn, request{Digest: d.String()}); err != nil {
		return peerErr(fmt.Errorf("request %s from peer %s: %w", d, peerName, err))
	}
	var resp response
	if err := p2p.ReadFrame(conn, &resp, maxHeaderFrame); err != nil {
		return peerErr(fmt.Errorf("request %s from peer %s: %w", d, peerName, err))
	}
	switch {
	case resp.Error != "" && resp.Code == codeNotFound:
		return peerErr(fmt.Errorf("peer %s: %w: %s", peerName, ErrNotFound, clip(resp.Error)))
	case resp.Error != "":
		return peerErr(fmt.Errorf("peer %s: %s", peerName, clip(resp.Error)))
	case resp.Size < 0:
		return peerErr(fmt.Errorf("peer %s announced negative size %d for %s", peerName, resp.Size, d))
	case size >= 0 && resp.Size != size:
		return peerErr(fmt.Errorf("peer %s has %s with %d bytes, want %d", peerName, d, resp.Size, size))
	}
	total(resp.Size)
	vr := &verifyReader{r: conn, peer: peerName, want: d, h: d.newHash(), size: resp.Size, idle: rd, progress: progress}
	werr := store.WriteBlob(ctx, d.String(), resp.Size, vr)
	switch {
	case vr.err != nil:
		return peerErr(vr.err)
	case ctx.Err() != nil:
		return &attemptError{err: ctx.Err()}
	case werr == nil && vr.verified:
		return nil
	}
	// The store stopped early or failed on its own; it may still hold the
	// blob, e.g. if another writer committed it first.
	if ok, err := store.HasBlob(ctx, d.String()); err == nil && ok {
		return nil
	}
	if werr == nil {
		werr = errors.New("store returned before reading the whole blob")
	}
	return &attemptError{err: fmt.Errorf("store %s: %w", d, werr)}
}
