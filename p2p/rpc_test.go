package p2p

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/shoal-project/shoal/api"
)

const rpcProto protocol.ID = "/shoal/test-rpc/1"

type addReq struct{ A, B int }
type addResp struct{ Sum int }

// rpcPair returns two member hosts; b serves handler on rpcProto.
func rpcPair(t *testing.T, handler RPCHandler) (a, b *Host) {
	t.Helper()
	a = newTestHost(t, GaterOptions{})
	b = newTestHost(t, GaterOptions{})
	makeMembers(t, a, b)
	if err := b.HandleRPC(rpcProto, true, handler); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestRPCResultAndErrors(t *testing.T) {
	var sawFrom peer.ID
	a, b := rpcPair(t, func(ctx context.Context, from peer.ID, method string, body json.RawMessage) (any, error) {
		sawFrom = from
		switch method {
		case "add":
			var r addReq
			if err := json.Unmarshal(body, &r); err != nil {
				return nil, api.Errorf(api.CodeInvalid, "bad add request: %v", err)
			}
			return addResp{Sum: r.A + r.B}, nil
		case "missing":
			return nil, api.Errorf(api.CodeNotFound, "service %q not found", "web")
		case "wrapped":
			return nil, errors.Join(errors.New("context"), api.Errorf(api.CodeConflict, "version mismatch"))
		case "plain":
			return nil, errors.New("disk on fire")
		case "panic":
			panic("boom")
		case "unencodable":
			return make(chan int), nil
		}
		return nil, api.Errorf(api.CodeInvalid, "unknown method %q", method)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var sum addResp
	if err := a.Call(ctx, b.ID(), rpcProto, "add", addReq{2, 3}, &sum); err != nil || sum.Sum != 5 {
		t.Fatalf("add = %+v, %v", sum, err)
	}
	if sawFrom != a.ID() {
		t.Fatalf("handler saw caller %s, want %s", sawFrom, a.ID())
	}
	if err := a.Call(ctx, b.ID(), rpcProto, "add", addReq{1, 1}, nil); err != nil {
		t.Fatalf("nil resp: %v", err)
	}
	cases := []struct {
		method string
		code   api.ErrorCode
		msg    string
	}{
		{"missing", api.CodeNotFound, `service "web" not found`},
		{"wrapped", api.CodeConflict, "version mismatch"},
		{"plain", api.CodeInternal, "disk on fire"},
		{"panic", api.CodeInternal, "panicked: boom"},
		{"unencodable", api.CodeInternal, "encode result"},
	}
	for _, c := range cases {
		err := a.Call(ctx, b.ID(), rpcProto, c.method, nil, nil)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Code != c.code || !strings.Contains(ae.Message, c.msg) {
			t.Errorf("%s: got %#v, want code %s with %q", c.method, err, c.code, c.msg)
		}
	}
	if err := a.Call(ctx, b.ID(), rpcProto, "add", make(chan int), nil); err == nil || !strings.Contains(err.Error(), "encode request") {
		t.Errorf("unencodable request: got %v", err)
	}
	var wrong []string
	if err := a.Call(ctx, b.ID(), rpcProto, "add", addReq{}, &wrong); err == nil || !strings.Contains(err.Error(), "decode result") {
		t.Errorf("mismatched result type: got %v", err)
	}
	if err := a.Call(ctx, b.ID(), "/shoal/nobody/1", "add", nil, nil); err == nil {
		t.Error("call on an unserved protocol succeeded")
	}
}

func TestRPCDeadlineHonouredBothSides(t *testing.T) {
	handlerCtx := make(chan context.Context, 1)
	handlerDone := make(chan error, 1)
	a, b := rpcPair(t, func(ctx context.Context, _ peer.ID, _ string, _ json.RawMessage) (any, error) {
		handlerCtx <- ctx
		select {
		case <-ctx.Done():
			handlerDone <- ctx.Err()
		case <-time.After(10 * time.Second):
			handlerDone <- errors.New("handler ctx never ended")
		}
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := a.Call(ctx, b.ID(), rpcProto, "slow", nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("call returned after %v, deadline was 500ms", d)
	}
	hctx := <-handlerCtx
	if dl, ok := hctx.Deadline(); !ok || dl.After(start.Add(2*time.Second)) {
		t.Fatalf("handler ctx deadline %v (set %v), want about the caller's", dl, ok)
	}
	select {
	case err := <-handlerDone:
		if err == nil || !strings.Contains(err.Error(), "context") {
			t.Fatalf("handler ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler ctx not cancelled")
	}
}

func TestRPCCallerCancelReachesHandler(t *testing.T) {
	started := make(chan struct{})
	ended := make(chan struct{})
	a, b := rpcPair(t, func(ctx context.Context, _ peer.ID, _ string, _ json.RawMessage) (any, error) {
		close(started)
		<-ctx.Done()
		close(ended)
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Call(ctx, b.ID(), rpcProto, "wait", nil, nil) }()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("caller's cancel did not reach the handler")
	}
}

func TestRPCRejectsBadRequestFrame(t *testing.T) {
	a, b := rpcPair(t, func(context.Context, peer.ID, string, json.RawMessage) (any, error) {
		return "unreachable", nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := a.Dial(ctx, b.ID(), rpcProto)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(frameBytes(3, "{x}")); err != nil {
		t.Fatal(err)
	}
	var r rpcResponse
	if err := ReadFrame(c, &r, 0); err != nil {
		t.Fatal(err)
	}
	if r.Error == nil || r.Error.Code != api.CodeInvalid {
		t.Fatalf("got %+v, want an invalid error", r)
	}
}

func TestHandleRPCValidation(t *testing.T) {
	h := newTestHost(t, GaterOptions{})
	if err := h.HandleRPC("", false, func(context.Context, peer.ID, string, json.RawMessage) (any, error) { return nil, nil }); err == nil {
		t.Error("empty protocol accepted")
	}
	if err := h.HandleRPC(rpcProto, false, nil); err == nil {
		t.Error("nil handler accepted")
	}
}
