package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
)

// EventStream reads GET /v1/events line by line.
type EventStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// Events opens the event stream with filter. A resume point older than
// the node keeps fails with a CodeGone error that names the oldest one.
// Cancelling ctx, or Close, ends the stream.
func (c *Client) Events(ctx context.Context, filter EventFilter) (*EventStream, error) {
	path := "/v1/events"
	if q := filter.Query(); len(q) > 0 {
		path += "?" + q.Encode()
	}
	resp, err := c.send(ctx, http.MethodGet, path, nil, "", c.stream)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	return &EventStream{body: resp.Body, sc: sc}, nil
}

// Next returns the next event and its raw JSON line. When the server cut
// the stream off it returns an *Error carrying the server's message (and
// the resume index in it); when the stream ends it returns io.EOF.
func (s *EventStream) Next() (*Event, []byte, error) {
	if !s.sc.Scan() {
		if err := s.sc.Err(); err != nil {
			return nil, nil, Errorf(CodeUnavailable, "event stream broke: %v", err)
		}
		return nil, nil, io.EOF
	}
	line := s.sc.Bytes()
	var v struct {
		Event
		Error *string `json:"error"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return nil, nil, Errorf(CodeInternal, "event stream sent a bad line: %v", err)
	}
	if v.Error != nil {
		return nil, nil, Errorf(CodeUnavailable, "%s", *v.Error)
	}
	return &v.Event, append([]byte(nil), line...), nil
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }
