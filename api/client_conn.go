package api

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ClientConfig says how to reach an agent's API.
type ClientConfig struct {
	// Addr is unix:///PATH (or an absolute PATH) for an agent's local
	// socket, or https://HOST:PORT (or HOST:PORT) for its TCP endpoint.
	// Empty means DefaultAPIAddr.
	Addr string
	// Token is the API token sent as a bearer token (needed over TCP).
	Token string
	// TLS says how to trust the agent's certificate over TCP.
	TLS TLSOptions
}

// endpoint is a parsed API address.
type endpoint struct {
	socket string // unix socket path, or ""
	host   string // host:port over https, or ""
}

// parseAddr reads an API address and says exactly what is wrong with a
// bad one.
func parseAddr(addr string) (endpoint, error) {
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	if addr == "" {
		addr = DefaultAPIAddr
	}
	switch {
	case strings.HasPrefix(addr, "/"):
		return endpoint{socket: addr}, nil
	case strings.HasPrefix(addr, "unix://"):
		p := strings.TrimPrefix(addr, "unix://")
		if !strings.HasPrefix(p, "/") {
			return endpoint{}, fmt.Errorf("agent address %q: a unix socket needs an absolute path, unix:///PATH", addr)
		}
		return endpoint{socket: p}, nil
	case strings.HasPrefix(addr, "http://"):
		return endpoint{}, fmt.Errorf("agent address %q: agents serve TCP over HTTPS only; use https://HOST:PORT, or unix:///PATH for the local socket", addr)
	case strings.HasPrefix(addr, "https://"):
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return endpoint{}, fmt.Errorf("agent address %q: want https://HOST:PORT", addr)
		}
		addr = u.Host
	case strings.Contains(addr, "://"):
		return endpoint{}, fmt.Errorf("agent address %q: want unix:///PATH or https://HOST:PORT", addr)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return endpoint{}, fmt.Errorf("agent address %q: want unix:///PATH or https://HOST:PORT", addr)
	}
	return endpoint{host: addr}, nil
}

// display is the address as messages show it.
func (e endpoint) display() string {
	if e.socket != "" {
		return "unix://" + e.socket
	}
	return "https://" + e.host
}

// transports builds the request and stream transports for e. Requests
// over the socket are addressed to "localhost".
func (e endpoint) transports(tlsOpts TLSOptions) (base string, hc, stream *http.Client, err error) {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: dialer.DialContext, ForceAttemptHTTP2: false}
	if e.socket != "" {
		path := e.socket
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
		base = "http://localhost"
	} else {
		host, _, _ := net.SplitHostPort(e.host)
		cfg, err := tlsOpts.Config(host)
		if err != nil {
			return "", nil, nil, err
		}
		tr.TLSClientConfig = cfg
		base = "https://" + e.host
	}
	streamTr := tr.Clone()
	tr.ResponseHeaderTimeout = time.Minute
	return base, &http.Client{Transport: tr}, &http.Client{Transport: streamTr}, nil
}
