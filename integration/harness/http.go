package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/shoal-project/shoal/api"
)

// HTTPError is an answer of the agent's API other than 200 OK.
type HTTPError struct {
	Method, Path string
	Status       int
	Body         []byte
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, strings.TrimSpace(string(e.Body)))
}

// UnreachableError is a request that got no answer from the agent.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return e.Err.Error() }

// Unwrap returns the transport error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// Get decodes GET path from the agent's API into v.
func (a *Agent) Get(ctx context.Context, path string, v any) error {
	return a.Do(ctx, http.MethodGet, path, nil, v)
}

// Post sends body as JSON to path and decodes the answer into v (if v
// is not nil).
func (a *Agent) Post(ctx context.Context, path string, body, v any) error {
	return a.Do(ctx, http.MethodPost, path, body, v)
}

// Do sends one request (no retries), with body as JSON unless it is nil,
// and decodes a 200 answer into v unless v is nil. No answer is an
// *UnreachableError and any other status an *HTTPError.
func (a *Agent) Do(ctx context.Context, method, path string, body, v any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.URL(path), rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.HTTP().Do(req)
	if err != nil {
		return &UnreachableError{Err: err}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{Method: method, Path: path, Status: resp.StatusCode, Body: data}
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(data, v)
}

// HTTP is the agent's HTTP client: it reaches the agent's API socket
// whatever host a URL names (see URL).
func (a *Agent) HTTP() *http.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	network, addr := "unix", a.Socket
	if a.LegacyAddr != "" {
		network, addr = "tcp", a.LegacyAddr
	}
	if a.http == nil || a.httpTo != network+":"+addr {
		dialer := &net.Dialer{Timeout: time.Second}
		a.http = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			MaxIdleConnsPerHost: 4,
		}}
		a.httpTo = network + ":" + addr
	}
	return a.http
}

// UseLegacyAPI makes the agent serve, and the harness reach, its API the
// way releases before 0.3 did: plain HTTP on --api-addr, no socket. For
// the rolling-upgrade test's old binary.
func (a *Agent) UseLegacyAPI() {
	a.LegacyAddr = fmt.Sprintf("127.0.0.1:%d", FreePort(a.t))
	a.Args = replaceFlag(a.Args, "--api-socket", "--api-addr", a.LegacyAddr)
}

// UseSocketAPI undoes UseLegacyAPI.
func (a *Agent) UseSocketAPI() {
	a.Args = replaceFlag(a.Args, "--api-addr", "--api-socket", a.Socket)
	a.LegacyAddr = ""
}

// replaceFlag replaces flag old and its value with flag new and value.
func replaceFlag(args []string, old, new, value string) []string {
	out := append([]string{}, args...)
	for i := 0; i+1 < len(out); i++ {
		if out[i] == old {
			out[i], out[i+1] = new, value
		}
	}
	return out
}

// URL is the URL of path on the agent's API socket, for HTTP.
func (a *Agent) URL(path string) string { return "http://localhost" + path }

// Status is GET /v1/cluster within timeout.
func (a *Agent) Status(timeout time.Duration) (api.ClusterStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var st api.ClusterStatus
	err := a.Get(ctx, "/v1/cluster", &st)
	return st, err
}
