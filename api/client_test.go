package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func testClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	dir, err := os.MkdirTemp("", "shoal-api-")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "api.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { srv.Close(); os.RemoveAll(dir) })
	c := NewClient("unix://" + filepath.Join(dir, "api.sock"))
	c.Backoff = time.Millisecond
	return c
}

func writeErr(w http.ResponseWriter, code ErrorCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(HTTPStatus(code))
	_ = json.NewEncoder(w).Encode(ErrorResponse{Error: &Error{Code: code, Message: msg}})
}

func TestClientRetriesWritesWithTheSameRequestID(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	c := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get(HeaderRequestID))
		n := len(ids)
		mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v1/services" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		var spec ServiceSpec
		if err := json.NewDecoder(r.Body).Decode(&spec); err != nil || spec.Name != "web" {
			t.Errorf("body: %+v, %v", spec, err)
		}
		if n%3 != 0 { // fail twice out of three
			writeErr(w, CodeNoLeader, "no leader")
			return
		}
		_ = json.NewEncoder(w).Encode(ServiceInfo{Service: Service{ID: "s1", Spec: spec, Version: 1}})
	}))
	info, err := c.CreateService(context.Background(), ServiceSpec{Name: "web"})
	if err != nil || info.ID != "s1" || info.Spec.Name != "web" {
		t.Fatalf("CreateService = %+v, %v", info, err)
	}
	if _, err := c.CreateService(context.Background(), ServiceSpec{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 6 {
		t.Fatalf("server saw %d requests, want 6", len(ids))
	}
	if ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("retries used request IDs %q; want one non-empty ID", ids[:3])
	}
	if ids[3] == ids[0] || ids[3] != ids[5] {
		t.Fatalf("second write IDs %q should be fresh and stable (first was %q)", ids[3:], ids[0])
	}
}

func TestClientGivesUpAfterMaxAttempts(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	c := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		writeErr(w, CodeUnavailable, "store is closing")
	}))
	c.MaxAttempts = 3
	err := c.RemoveService(context.Background(), "web")
	if CodeOf(err) != CodeUnavailable || err.Error() != "store is closing" {
		t.Fatalf("err = %v (%s)", err, CodeOf(err))
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Fatalf("calls = %d, want 3", calls)
	}
}

func TestClientDecodesErrorsWithoutRetrying(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	c := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		switch r.URL.Path {
		case "/v1/services/nope":
			writeErr(w, CodeNotFound, `service "nope" not found`)
		case "/v1/nodes/n1":
			writeErr(w, CodeConflict, "node n1 is up; drain and stop it first")
		default:
			http.Error(w, "boom\nstack", http.StatusInternalServerError)
		}
	}))
	ctx := context.Background()
	_, err := c.Service(ctx, "nope")
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != CodeNotFound || apiErr.Message != `service "nope" not found` {
		t.Fatalf("Service error = %#v", err)
	}
	if err := c.RemoveNode(ctx, "n1", false); CodeOf(err) != CodeConflict {
		t.Fatalf("RemoveNode error = %v", err)
	}
	if _, err := c.Nodes(ctx); CodeOf(err) != CodeInternal || err.Error() != "agent answered 500: boom" {
		t.Fatalf("Nodes error = %q (%s)", err, CodeOf(err))
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 3 {
		t.Fatalf("calls = %d, want 3 (no retries for 4xx/500)", calls)
	}
}

func TestClientConnectionRefused(t *testing.T) {
	addr := "unix://" + t.TempDir() + "/none.sock"
	c := NewClient(addr)
	c.MaxAttempts, c.Backoff = 2, time.Millisecond
	_, err := c.ClusterStatus(context.Background(), false)
	want := "cannot reach shoal agent at " + addr + ": is it running? (set --addr or SHOAL_ADDR)"
	if err == nil || err.Error() != want || CodeOf(err) != CodeUnavailable {
		t.Fatalf("err = %v; want %q", err, want)
	}
}

func TestClientRoutesAndQueries(t *testing.T) {
	type seen struct{ method, uri, reqID, body string }
	var mu sync.Mutex
	var got []seen
	c := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.RequestURI(), r.Header.Get(HeaderRequestID), string(b)})
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/logs"):
			_, _ = io.WriteString(w, "line1\nline2\n")
		case strings.HasSuffix(r.URL.Path, "/tasks"), r.URL.Path == "/v1/nodes", r.URL.Path == "/v1/services":
			_, _ = io.WriteString(w, "[]")
		default:
			_, _ = io.WriteString(w, "{}")
		}
	}))
	ctx := context.Background()
	n := uint64(3)
	steps := []func() error{
		func() error { _, err := c.ClusterStatus(ctx, true); return err },
		func() error { _, err := c.Nodes(ctx); return err },
		func() error { _, err := c.Node(ctx, "a b"); return err },
		func() error {
			_, err := c.UpdateNode(ctx, "n1", NodeUpdateRequest{Availability: AvailabilityDrain})
			return err
		},
		func() error { return c.RemoveNode(ctx, "n1", false) },
		func() error { _, err := c.Token(ctx); return err },
		func() error { _, err := c.RotateToken(ctx); return err },
		func() error { _, err := c.Services(ctx); return err },
		func() error { _, err := c.ScaleService(ctx, "web", n); return err },
		func() error { _, err := c.ServiceTasks(ctx, "web"); return err },
		func() error {
			rc, err := c.ServiceLogs(ctx, "web", true, 10)
			if err != nil {
				return err
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			if string(b) != "line1\nline2\n" {
				t.Errorf("logs = %q", b)
			}
			return nil
		},
		func() error { rc, err := c.ServiceLogs(ctx, "web", false, -1); rc.Close(); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	want := []seen{
		{"GET", "/v1/cluster?consistent=true", "", ""},
		{"GET", "/v1/nodes", "", ""},
		{"GET", "/v1/nodes/a%20b", "", ""},
		{"POST", "/v1/nodes/n1", "*", `{"availability":"drain"}`},
		{"DELETE", "/v1/nodes/n1", "*", ""},
		{"GET", "/v1/token", "", ""},
		{"POST", "/v1/token/rotate", "*", ""},
		{"GET", "/v1/services", "", ""},
		{"POST", "/v1/services/web", "*", `{"replicas":3}`},
		{"GET", "/v1/services/web/tasks", "", ""},
		{"GET", "/v1/services/web/logs?follow=true&tail=10", "", ""},
		{"GET", "/v1/services/web/logs", "", ""},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("got %d requests, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if w.reqID == "*" {
			if len(g.reqID) != 32 {
				t.Errorf("request %d: request ID %q, want 32 hex digits", i, g.reqID)
			}
			g.reqID = "*"
		}
		if g != w {
			t.Errorf("request %d = %+v; want %+v", i, g, w)
		}
	}
}

func TestNewClientAddressForms(t *testing.T) {
	pin := TLSOptions{CAFingerprint: "sha256:" + strings.Repeat("0f", 32)}
	cases := map[string]string{"": DefaultAPIAddr, "10.0.0.1:7948": "https://10.0.0.1:7948", " https://h:2/ ": "https://h:2",
		"/run/x.sock": "unix:///run/x.sock", "unix:///run/x.sock": "unix:///run/x.sock"}
	for in, want := range cases {
		c, err := NewClientConfig(ClientConfig{Addr: in, Token: "t", TLS: pin})
		if err != nil || c.Addr() != want {
			t.Errorf("NewClientConfig(%q) = %v, %v; want address %q", in, c, err, want)
		}
	}
	for _, bad := range []string{"http://h:1", "ftp://h:1", "unix://rel.sock", "h", "https://h:1/x"} {
		if _, err := NewClientConfig(ClientConfig{Addr: bad, Token: "t", TLS: pin}); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("NewClientConfig(%q): err = %v; want a one-line error", bad, err)
		}
	}
}

func TestClientStopsRetryingWhenCancelled(t *testing.T) {
	c := testClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, CodeNoLeader, "no leader")
	}))
	c.MaxAttempts, c.Backoff = 100, time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.RotateToken(ctx)
	if err == nil || !strings.Contains(err.Error(), "timed out: no leader") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("did not stop at the deadline")
	}
}
