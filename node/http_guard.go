package node

import (
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/shoal-project/shoal/api"
)

// checkBrowser returns why r is refused, or nil: it refuses what only a
// web browser would send, so that a page the operator visits cannot drive
// the API (cross-site requests, DNS rebinding): any request with an
// Origin header (the API serves no pages; browsers add Origin to every
// cross-site write), any request whose Host is a name other than
// localhost or, on the HTTPS endpoint, one of the node's own names
// (names; a rebinding page reaches the API under its own DNS name), and
// any request with a body whose Content-Type a page may send without a
// CORS preflight (text/plain, forms) or none at all. Writes with a body
// must be application/json, or application/x-tar for an image upload.
//
// This is not authentication: it closes the browser's way in; tokens and
// the socket's mode do the rest.
func checkBrowser(r *http.Request, names func() []string) *api.Error {
	if o := r.Header.Get("Origin"); o != "" {
		return api.Errorf(api.CodeForbidden, "requests from web pages are refused (Origin %q)", o)
	}
	if !hostAllowed(r.Host) && !(endpointOf(r.Context()) == endpointTCP && ownName(r.Host, names())) {
		return api.Errorf(api.CodeForbidden, "Host %q is refused: address the API by IP address, localhost or the node's name", r.Host)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil // a write without a body (DELETE, rotate)
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil:
		return api.Errorf(api.CodeUnsupportedMedia, "a request body needs Content-Type: application/json")
	case ct == "application/json":
		return nil
	case ct == "application/x-tar" && r.URL.Path == "/v1/images":
		return nil
	}
	return api.Errorf(api.CodeUnsupportedMedia, "Content-Type %q is refused: send application/json", ct)
}

// hostAllowed reports whether a request's Host names the API as the CLI
// does: an IP address or localhost, with or without a port.
func hostAllowed(host string) bool {
	if host == "" {
		return true // HTTP/1.0, or a unix socket client
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	return net.ParseIP(h) != nil
}

// ownName reports whether host (with or without a port) is one of names.
func ownName(host string, names []string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, n := range names {
		if strings.EqualFold(host, n) {
			return true
		}
	}
	return false
}
