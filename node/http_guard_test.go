package node

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/api"
)

// TestBrowserGuard checks what a web page could send is refused with the
// right code, and what the CLI sends passes.
func TestBrowserGuard(t *testing.T) {
	cases := []struct {
		name        string
		method      string
		path        string
		host        string
		contentType string
		origin      string
		body        string
		want        api.ErrorCode // "" = passes
	}{
		{"cli read", "GET", "/v1/services", "127.0.0.1:7948", "", "", "", ""},
		{"cli write", "POST", "/v1/services", "127.0.0.1:7948", "application/json", "", "{}", ""},
		{"json with charset", "POST", "/v1/services", "127.0.0.1:7948", "application/json; charset=utf-8", "", "{}", ""},
		{"bodyless delete", "DELETE", "/v1/services/web", "127.0.0.1:7948", "", "", "", ""},
		{"localhost and ipv6", "GET", "/v1/cluster", "[::1]:7948", "", "", "", ""},
		{"localhost name", "GET", "/v1/cluster", "localhost:7948", "", "", "", ""},
		{"image upload", "POST", "/v1/images", "10.0.0.5:7948", "application/x-tar", "", "tar", ""},
		{"text/plain write", "POST", "/v1/services", "127.0.0.1:7948", "text/plain", "", "{}", api.CodeUnsupportedMedia},
		{"form write", "POST", "/v1/services", "127.0.0.1:7948", "application/x-www-form-urlencoded", "", "a=b", api.CodeUnsupportedMedia},
		{"body without type", "POST", "/v1/services", "127.0.0.1:7948", "", "", "{}", api.CodeUnsupportedMedia},
		{"tar elsewhere", "POST", "/v1/services", "127.0.0.1:7948", "application/x-tar", "", "x", api.CodeUnsupportedMedia},
		{"origin on a read", "GET", "/v1/token", "127.0.0.1:7948", "", "https://evil.example", "", api.CodeForbidden},
		{"origin on a write", "POST", "/v1/services", "127.0.0.1:7948", "application/json", "null", "{}", api.CodeForbidden},
		{"rebinding name", "GET", "/v1/token", "evil.example:7948", "", "", "", api.CodeForbidden},
		{"rebinding name without port", "GET", "/v1/token", "attacker.localhost.evil", "", "", "", api.CodeForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
			r.Host = c.host
			if c.body == "" {
				r.ContentLength = 0
			}
			if c.contentType != "" {
				r.Header.Set("Content-Type", c.contentType)
			}
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
			err := checkBrowser(r, func() []string { return []string{"n1"} })
			reached := err == nil
			w := httptest.NewRecorder()
			if err != nil {
				writeError(w, err)
			}
			switch {
			case c.want == "" && !reached:
				t.Fatalf("refused with %d %s", w.Code, w.Body)
			case c.want != "" && reached:
				t.Fatal("passed, want refused")
			case c.want != "" && w.Code != api.HTTPStatus(c.want):
				t.Fatalf("status %d, want %d (%s)", w.Code, api.HTTPStatus(c.want), w.Body)
			case c.want != "" && strings.Contains(strings.TrimSpace(w.Body.String()), "\n"):
				t.Fatalf("error is not one line: %s", w.Body)
			}
		})
	}
}

// FuzzHostAllowed checks the Host check never panics and never lets a
// name other than localhost through.
func FuzzHostAllowed(f *testing.F) {
	for _, h := range []string{"127.0.0.1:7948", "[::1]:1", "localhost", "evil.example:80", "", "[", "::1"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		if !hostAllowed(host) {
			return
		}
		h := host
		if hh, _, err := netSplit(host); err == nil {
			h = hh
		}
		h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
		if h != "" && !strings.EqualFold(h, "localhost") && !isIP(h) {
			t.Fatalf("Host %q allowed", host)
		}
	})
}

func netSplit(h string) (string, string, error) { return net.SplitHostPort(h) }

func isIP(h string) bool { return net.ParseIP(h) != nil }
