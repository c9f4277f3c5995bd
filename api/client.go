package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Client talks to a Shoal agent's HTTP API. Its methods return *Error for
// every failure, so callers can switch on CodeOf(err).
//
// Writes carry a fresh X-Request-ID; on a connection error, a 503 or a 429
// they are retried with the same ID, so a retried write applies once.
// Reads are retried the same way.
type Client struct {
	// MaxAttempts is how many times a request is tried (default 5).
	MaxAttempts int
	// Backoff is the wait before the first retry; it doubles after each
	// (default 100ms).
	Backoff time.Duration

	base    string // "https://host:port", or "http://localhost" on a socket
	display string // the address as given, for messages
	socket  string // the unix socket path, or ""
	token   string // bearer token, or ""
	err     error  // why the address is unusable
	hc      *http.Client
	// stream has no response-header timeout: a followed log stream may
	// stay quiet.
	stream *http.Client
}

// NewClient returns a client for the agent at addr (see ClientConfig.Addr),
// with no token. A bad address makes every call fail with its error.
func NewClient(addr string) *Client { return ClientFor(ClientConfig{Addr: addr}) }

// ClientFor is NewClientConfig for callers that report errors on first
// use: a bad cfg makes every call fail with its error.
func ClientFor(cfg ClientConfig) *Client {
	c, err := NewClientConfig(cfg)
	if err != nil {
		return FailedClient(err)
	}
	return c
}

// FailedClient is a client whose every call fails with err: for callers
// that report a configuration problem on first use.
func FailedClient(err error) *Client {
	return &Client{MaxAttempts: 1, err: Errorf(CodeInvalid, "%v", err)}
}

// NewClientConfig returns a client for cfg, or a one-line error naming
// what is wrong with it.
func NewClientConfig(cfg ClientConfig) (*Client, error) {
	ep, err := parseAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	base, hc, stream, err := ep.transports(cfg.TLS)
	if err != nil {
		return nil, err
	}
	if ep.host != "" && cfg.Token == "" {
		return nil, fmt.Errorf("%s: the TCP API needs a token: pass --token, --token-file or $SHOAL_TOKEN", ep.display())
	}
	return &Client{MaxAttempts: 5, Backoff: 100 * time.Millisecond, base: base, display: ep.display(),
		socket: ep.socket, token: cfg.Token, hc: hc, stream: stream}, nil
}

// Addr returns the agent address the client talks to, as
// "unix:///PATH" or "https://HOST:PORT".
func (c *Client) Addr() string { return c.display }

// ClusterStatus answers GET /v1/cluster; consistent asks the leader to
// confirm its leadership first.
func (c *Client) ClusterStatus(ctx context.Context, consistent bool) (ClusterStatus, error) {
	var out ClusterStatus
	path := "/v1/cluster"
	if consistent {
		path += "?consistent=true"
	}
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// Nodes lists the nodes of the cluster.
func (c *Client) Nodes(ctx context.Context) ([]NodeInfo, error) {
	var out []NodeInfo
	return out, c.do(ctx, http.MethodGet, "/v1/nodes", nil, &out)
}

// Node returns one node by name.
func (c *Client) Node(ctx context.Context, name string) (NodeInfo, error) {
	var out NodeInfo
	return out, c.do(ctx, http.MethodGet, "/v1/nodes/"+url.PathEscape(name), nil, &out)
}

// UpdateNode changes a node's availability or labels.
func (c *Client) UpdateNode(ctx context.Context, name string, req NodeUpdateRequest) (NodeInfo, error) {
	var out NodeInfo
	return out, c.do(ctx, http.MethodPost, "/v1/nodes/"+url.PathEscape(name), req, &out)
}

// RemoveNode removes a node from the cluster for good: its peer ID is
// denied from then on. Only a down node, unless force.
func (c *Client) RemoveNode(ctx context.Context, name string, force bool) error {
	path := "/v1/nodes/" + url.PathEscape(name)
	if force {
		path += "?force=true"
	}
	return c.do(ctx, http.MethodDelete, path, nil, nil)
}

// Token returns the current join token.
func (c *Client) Token(ctx context.Context) (TokenResponse, error) {
	var out TokenResponse
	return out, c.do(ctx, http.MethodGet, "/v1/token", nil, &out)
}

// RotateToken replaces the join token and returns the new one.
func (c *Client) RotateToken(ctx context.Context) (TokenResponse, error) {
	var out TokenResponse
	return out, c.do(ctx, http.MethodPost, "/v1/token/rotate", nil, &out)
}

// Services lists the services.
func (c *Client) Services(ctx context.Context) ([]ServiceInfo, error) {
	var out []ServiceInfo
	return out, c.do(ctx, http.MethodGet, "/v1/services", nil, &out)
}

// Service returns one service by name.
func (c *Client) Service(ctx context.Context, name string) (ServiceInfo, error) {
	var out ServiceInfo
	return out, c.do(ctx, http.MethodGet, "/v1/services/"+url.PathEscape(name), nil, &out)
}

// CreateService creates a service.
func (c *Client) CreateService(ctx context.Context, spec ServiceSpec) (ServiceInfo, error) {
	var out ServiceInfo
	return out, c.do(ctx, http.MethodPost, "/v1/services", spec, &out)
}

// UpdateService replaces a service's spec or scales it.
func (c *Client) UpdateService(ctx context.Context, name string, req ServiceUpdateRequest) (ServiceInfo, error) {
	var out ServiceInfo
	return out, c.do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(name), req, &out)
}

// ScaleService sets a replicated service's replica count.
func (c *Client) ScaleService(ctx context.Context, name string, replicas uint64) (ServiceInfo, error) {
	return c.UpdateService(ctx, name, ServiceUpdateRequest{Replicas: &replicas})
}

// PromoteService continues a service's update held in its canary state.
func (c *Client) PromoteService(ctx context.Context, name string) (ServiceInfo, error) {
	var out ServiceInfo
	return out, c.do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(name)+"/promote", nil, &out)
}

// RollbackService makes an earlier spec of a service its new version:
// toVersion's, or with 0 the version before the current one.
func (c *Client) RollbackService(ctx context.Context, name string, toVersion uint64) (ServiceInfo, error) {
	var out ServiceInfo
	return out, c.do(ctx, http.MethodPost, "/v1/services/"+url.PathEscape(name)+"/rollback", ServiceRollbackRequest{ToVersion: toVersion}, &out)
}

// RemoveService removes a service; its tasks are shut down.
func (c *Client) RemoveService(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/services/"+url.PathEscape(name), nil, nil)
}

// ServiceTasks lists a service's tasks, including recent history.
func (c *Client) ServiceTasks(ctx context.Context, name string) ([]TaskInfo, error) {
	var out []TaskInfo
	return out, c.do(ctx, http.MethodGet, "/v1/services/"+url.PathEscape(name)+"/tasks", nil, &out)
}

// ServiceLogs streams a service's logs. follow keeps the stream open; tail
// limits the output to the last tail lines of each task (tail < 0: all).
// The caller closes the stream; cancelling ctx ends it.
func (c *Client) ServiceLogs(ctx context.Context, name string, follow bool, tail int) (io.ReadCloser, error) {
	q := url.Values{}
	if follow {
		q.Set("follow", "true")
	}
	if tail >= 0 {
		q.Set("tail", strconv.Itoa(tail))
	}
	path := "/v1/services/" + url.PathEscape(name) + "/logs"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.send(ctx, http.MethodGet, path, nil, "", c.stream)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// NewRequestID returns a random 128-bit request ID in hex.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// do sends a request with a JSON body (if in is not nil) and decodes a JSON
// answer into out (if out is not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return Errorf(CodeInvalid, "encode request: %v", err)
		}
	}
	reqID := ""
	if method != http.MethodGet {
		reqID = NewRequestID()
	}
	resp, err := c.send(ctx, method, path, body, reqID, c.hc)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return Errorf(CodeInternal, "agent at %s sent a bad answer to %s %s: %v", c.display, method, path, err)
	}
	return nil
}

// send performs a request with retries and returns a 2xx response.
func (c *Client) send(ctx context.Context, method, path string, body []byte, reqID string, hc *http.Client) (*http.Response, error) {
	attempts := max(c.MaxAttempts, 1)
	wait := c.Backoff
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, c.ctxError(ctx, last)
			case <-t.C:
			}
			wait *= 2
		}
		resp, err := c.once(ctx, hc, method, path, body, reqID)
		if err == nil {
			return resp, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, c.ctxError(ctx, last)
		}
		if !retryable(err) {
			return nil, err
		}
	}
	return nil, last
}

func (c *Client) once(ctx context.Context, hc *http.Client, method, path string, body []byte, reqID string) (*http.Response, error) {
	if c.err != nil {
		return nil, c.err
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, Errorf(CodeInvalid, "bad agent address %q: %v", c.base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if reqID != "" {
		req.Header.Set(HeaderRequestID, reqID)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.netError(err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, decodeError(resp)
}

func (c *Client) netError(err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) || (c.socket != "" && errors.Is(err, syscall.ENOENT)) {
		return Errorf(CodeUnavailable, "cannot reach shoal agent at %s: is it running? (set --addr or SHOAL_ADDR)", c.display)
	}
	if c.socket != "" && errors.Is(err, syscall.EACCES) {
		return Errorf(CodeForbidden, "permission denied on %s: the local API is for root and group %s; over TCP use https://HOST:PORT with a token", c.socket, "shoal")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return Errorf(CodeUnavailable, "cannot reach shoal agent at %s: %v", c.display, err)
}

func (c *Client) ctxError(ctx context.Context, last error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		if last != nil {
			return Errorf(CodeUnavailable, "timed out: %v", last)
		}
		return Errorf(CodeUnavailable, "timed out talking to shoal agent at %s", c.display)
	}
	return Errorf(CodeUnavailable, "cancelled")
}

func retryable(err error) bool {
	switch CodeOf(err) {
	case CodeNoLeader, CodeUnavailable, CodeRateLimited:
		return true
	}
	return false
}

// decodeError reads an API error body, falling back to the status line.
func decodeError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var er ErrorResponse
	if json.Unmarshal(data, &er) == nil && er.Error != nil && er.Error.Message != "" {
		if er.Error.Code == "" {
			er.Error.Code = codeForStatus(resp.StatusCode)
		}
		return er.Error
	}
	msg := strings.TrimSpace(string(data))
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return Errorf(codeForStatus(resp.StatusCode), "agent answered %d: %s", resp.StatusCode, msg)
}

func codeForStatus(status int) ErrorCode {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusUnprocessableEntity:
		return CodeInvalid
	case http.StatusUnauthorized, http.StatusForbidden:
		return CodeUnauthorized
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return CodeConflict
	case http.StatusRequestEntityTooLarge:
		return CodeTooLarge
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return CodeUnavailable
	}
	return CodeInternal
}
