package blobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/shoal-project/shoal/p2p"
)

// ServerStreams is how many blob streams a Server serves at once; further
// streams wait until one finishes.
const ServerStreams = 8

// Server timeouts.
const (
	// requestTimeout bounds the wait for a request frame.
	requestTimeout = 30 * time.Second
	// writeIdleTimeout fails a transfer whose client reads nothing for
	// this long, freeing its slot.
	writeIdleTimeout = 60 * time.Second
)

// Server serves blobs from a BlobStore to cluster members on Protocol.
type Server struct {
	store  BlobStore
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// NewServer serves store on h's Protocol to members only, until Close.
func NewServer(h *p2p.Host, store BlobStore) (*Server, error) {
	if h == nil || store == nil {
		return nil, errors.New("blob server: nil host or store")
	}
	ln, err := h.Listen(Protocol, true)
	if err != nil {
		return nil, fmt.Errorf("blob server: %w", err)
	}
	return serve(ln, store), nil
}

// serve starts a Server accepting on ln.
func serve(ln net.Listener, store BlobStore) *Server {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{store: store, ln: ln, ctx: ctx, cancel: cancel, sem: make(chan struct{}, ServerStreams)}
	s.wg.Add(1)
	go s.acceptLoop()
	return s
}

// acceptLoop takes a slot, then accepts a stream and serves it in the slot.
func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		select {
		case s.sem <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		conn, err := s.ln.Accept()
		if err != nil {
			<-s.sem
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			s.serveConn(conn)
		}()
	}
}

// Close stops accepting, aborts transfers in progress and waits for them.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cancel()
		_ = s.ln.Close()
		s.wg.Wait()
	})
	return nil
}

// serveConn answers one request on conn.
func (s *Server) serveConn(conn net.Conn) {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { resetConn(conn) })
	_ = conn.SetReadDeadline(time.Now().Add(requestTimeout))
	var req request
	if err := p2p.ReadFrame(conn, &req, maxHeaderFrame); err != nil {
		err = s.fail(conn, codeInvalid, fmt.Sprintf("bad blob request: %v", err))
		s.finish(conn, stop, err)
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	// The client sends nothing after its request: EOF or a reset means it
	// went away, which cancels ctx and with it the store read.
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var b [1]byte
		_, _ = conn.Read(b[:])
		cancel()
	}()
	err := s.send(ctx, conn, req)
	if !stop() {
		err = context.Canceled // conn was reset already
	}
	_ = conn.SetReadDeadline(time.Now())
	<-watchDone
	s.finish(conn, func() bool { return true }, err)
}

// finish closes conn after a served request, or resets it after err.
func (s *Server) finish(conn net.Conn, stop func() bool, err error) {
	if !stop() || err != nil {
		resetConn(conn)
		return
	}
	_ = conn.Close()
}

// send writes the response header and the requested bytes.
func (s *Server) send(ctx context.Context, conn net.Conn, req request) error {
	d, err := parseDigest(req.Digest)
	if err != nil {
		return s.fail(conn, codeInvalid, err.Error())
	}
	if req.Offset < 0 {
		return s.fail(conn, codeInvalid, fmt.Sprintf("negative offset %d", req.Offset))
	}
	rc, size, err := s.store.ReadBlob(ctx, d.String())
	if err != nil {
		if ok, herr := s.store.HasBlob(ctx, d.String()); herr == nil && !ok {
			return s.fail(conn, codeNotFound, fmt.Sprintf("%s: not in store", d))
		}
		return s.fail(conn, codeInternal, fmt.Sprintf("read %s: %v", d, err))
	}
	defer rc.Close()
	if req.Offset > size {
		return s.fail(conn, codeInvalid, fmt.Sprintf("offset %d beyond size %d of %s", req.Offset, size, d))
	}
	if err := skip(rc, req.Offset); err != nil {
		return s.fail(conn, codeInternal, fmt.Sprintf("seek %s to %d: %v", d, req.Offset, err))
	}
	wd := &idleDeadline{set: conn.SetWriteDeadline, timeout: writeIdleTimeout}
	wd.touch()
	if err := p2p.WriteFrame(conn, response{Size: size}); err != nil {
		return err
	}
	bufp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bufp)
	buf := *bufp
	remaining := size - req.Offset
	for remaining > 0 {
		n, rerr := rc.Read(buf[:min(int64(len(buf)), remaining)])
		if n > 0 {
			wd.touch()
			if _, err := conn.Write(buf[:n]); err != nil {
				return err
			}
			remaining -= int64(n)
		}
		if rerr != nil && remaining > 0 {
			// The header promised size bytes; a short read aborts
			// the stream so the client sees a failure, not a short
			// blob.
			return fmt.Errorf("read %s: %w", d, eofToUnexpected(rerr))
		}
	}
	return nil
}

// fail writes an error response; it returns nil so the stream closes
// normally after it.
func (s *Server) fail(conn net.Conn, code, msg string) error {
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return p2p.WriteFrame(conn, response{Error: msg, Code: code})
}

// skip advances r by n bytes, seeking when it can.
func skip(r io.Reader, n int64) error {
	if n == 0 {
		return nil
	}
	if sk, ok := r.(io.Seeker); ok {
		_, err := sk.Seek(n, io.SeekStart)
		return err
	}
	_, err := io.CopyN(io.Discard, r, n)
	return eofToUnexpected(err)
}

// eofToUnexpected turns io.EOF into io.ErrUnexpectedEOF.
func eofToUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// bufPool holds transfer buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
