package p2p

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/shoal-project/shoal/api"
)

// RPCHandler serves one RPC request. ctx carries the caller's deadline.
// Returning an *api.Error keeps its code across the wire; any other error is
// reported with code "internal".
type RPCHandler func(ctx context.Context, from peer.ID, method string, body json.RawMessage) (any, error)

// rpcRequestTimeout bounds how long a server waits for the request frame,
// and how long a request without a caller deadline may run.
const rpcRequestTimeout = 30 * time.Second

// rpcExpiredGrace is how long a server waits for a caller whose deadline
// passed to close its stream before resetting it.
const rpcExpiredGrace = 2 * time.Second

// rpcRequest is the request frame.
type rpcRequest struct {
	Method string          `json:"method"`
	Body   json.RawMessage `json:"body,omitempty"`
	// TimeoutMS is the time the caller still waits, so the handler's ctx
	// expires with the caller's.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`
}

// rpcResponse is the response frame.
type rpcResponse struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *api.Error      `json:"error,omitempty"`
}

// HandleRPC serves request/response RPCs on proto, one request per stream.
// With membersOnly, streams from non-members are reset.
func (h *Host) HandleRPC(proto protocol.ID, membersOnly bool, handler RPCHandler) error {
	if proto == "" {
		return errors.New("handle rpc: empty protocol ID")
	}
	if handler == nil {
		return fmt.Errorf("handle rpc %s: nil handler", proto)
	}
	h.h.SetStreamHandler(proto, func(s network.Stream) {
		h.serveRPC(s, membersOnly, handler)
	})
	return nil
}

// serveRPC reads one request from s, runs handler and writes the response.
func (h *Host) serveRPC(s network.Stream, membersOnly bool, handler RPCHandler) {
	from := s.Conn().RemotePeer()
	if !h.streamAllowed(from, membersOnly) {
		_ = s.Reset()
		return
	}
	defer s.Close()
	_ = s.SetReadDeadline(time.Now().Add(rpcRequestTimeout))
	var req rpcRequest
	if err := ReadFrame(s, &req, DefaultMaxFrameSize); err != nil {
		_ = s.SetWriteDeadline(time.Now().Add(time.Second))
		_ = WriteFrame(s, rpcResponse{Error: api.Errorf(api.CodeInvalid, "bad rpc request: %v", err)})
		return
	}
	timeout := rpcRequestTimeout
	if req.TimeoutMS > 0 {
		timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(h.ctx, timeout)
	defer cancel()
	// The caller sends nothing after its request; EOF or a reset means it
	// gave up, so the handler's ctx ends with it.
	_ = s.SetReadDeadline(time.Time{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var b [1]byte
		_, _ = s.Read(b[:])
		cancel()
	}()
	defer func() {
		_ = s.SetReadDeadline(time.Now())
		<-watchDone
	}()
	result, err := callHandler(ctx, handler, from, req)
	if ctx.Err() != nil {
		// The caller's deadline passed or it went away. Send nothing, so
		// the caller reports its own deadline rather than a reply that
		// raced with it; give it a moment to close, then reset.
		select {
		case <-watchDone:
		case <-time.After(rpcExpiredGrace):
		}
		_ = s.Reset()
		return
	}
	resp := rpcResponse{}
	if err == nil {
		resp.Result, err = json.Marshal(result)
		if err != nil {
			err = fmt.Errorf("encode result of %s: %w", req.Method, err)
		}
	}
	if err != nil {
		resp = rpcResponse{Error: toAPIError(err)}
	}
	deadline, _ := ctx.Deadline()
	_ = s.SetWriteDeadline(deadline)
	if err := WriteFrame(s, resp); err != nil && resp.Error == nil {
		_ = WriteFrame(s, rpcResponse{Error: api.Errorf(api.CodeTooLarge, "result of %s: %v", req.Method, err)})
	}
}

// callHandler runs handler, turning a panic into an internal error.
func callHandler(ctx context.Context, handler RPCHandler, from peer.ID, req rpcRequest) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rpc handler for %s panicked: %v\n%s", req.Method, r, debug.Stack())
		}
	}()
	return handler(ctx, from, req.Method, req.Body)
}

// toAPIError keeps an *api.Error and wraps anything else as "internal".
func toAPIError(err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae
	}
	return &api.Error{Code: api.CodeInternal, Message: err.Error()}
}

// Call sends method with req to peer to on proto and decodes the result into
// resp (which may be nil). An error returned by the remote handler comes back
// as an *api.Error. The ctx deadline bounds the whole call and is passed to
// the remote handler; a transport failure is returned wrapped (errors.Is
// ctx.Err() when the context ended).
func (h *Host) Call(ctx context.Context, to peer.ID, proto protocol.ID, method string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("rpc %s: encode request: %w", method, err)
	}
	conn, err := h.Dial(ctx, to, proto)
	if err != nil {
		return fmt.Errorf("rpc %s: %w", method, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	frame := rpcRequest{Method: method, Body: body}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
		frame.TimeoutMS = max(time.Until(dl).Milliseconds(), 1)
	}
	var r rpcResponse
	err = WriteFrame(conn, frame)
	if err == nil {
		err = ReadFrame(conn, &r, DefaultMaxFrameSize)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		} else if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			err = context.DeadlineExceeded // conn deadline fired before ctx's timer
		}
		return fmt.Errorf("rpc %s to %s on %s: %w", method, to, proto, err)
	}
	if r.Error != nil {
		if r.Error.Code == "" {
			r.Error.Code = api.CodeInternal
		}
		return r.Error
	}
	if resp != nil && len(r.Result) > 0 {
		if err := json.Unmarshal(r.Result, resp); err != nil {
			return fmt.Errorf("rpc %s: decode result: %w", method, err)
		}
	}
	return nil
}
