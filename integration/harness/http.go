package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	req, err := http.NewRequestWithContext(ctx, method, "http://"+a.APIAddr+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := a.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
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

// Status is GET /v1/cluster within timeout.
func (a *Agent) Status(timeout time.Duration) (api.ClusterStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var st api.ClusterStatus
	err := a.Get(ctx, "/v1/cluster", &st)
	return st, err
}
