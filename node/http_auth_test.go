package node

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shoal-project/shoal/api"
)

// fakeTokens is a token table of one token.
type fakeTokens map[string]*api.ACLToken

func (f fakeTokens) ACLTokenBySecretHash(h string) (*api.ACLToken, bool) {
	t, ok := f[h]
	return t, ok
}

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	good, expired := api.NewAPIToken(), api.NewAPIToken()
	tokens := fakeTokens{
		api.SecretHash(good):    {Name: "ci", Role: api.ACLOperator},
		api.SecretHash(expired): {Name: "old", Role: api.ACLAdmin, ExpiresAt: now.Add(-time.Second)},
	}
	cases := []struct {
		header string
		name   string // "" = refused with 401
		want   string
	}{
		{"Bearer " + good, "ci", ""},
		{"bearer " + good, "ci", ""},
		{"", "", "needs an API token"},
		{"Basic dXNlcjpwYXNz", "", `Authorization must be "Bearer TOKEN"`},
		{"Bearer " + api.NewAPIToken(), "", "unknown or revoked"},
		{"Bearer " + expired, "", "api token old expired at 2026-11-30T11:59:59Z"},
		{"Bearer SHOAL-1-abc-def", "", "that is a join token"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/v1/cluster", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		got, err := authenticate(r, tokens, now)
		switch {
		case c.name != "" && (err != nil || got.Name != c.name || got.Secret != good):
			t.Errorf("%q: %+v %v", c.header, got, err)
		case c.name == "" && (err == nil || err.Code != api.CodeUnauthorized || !strings.Contains(err.Message, c.want)):
			t.Errorf("%q: %v, want 401 %q", c.header, err, c.want)
		}
	}
	r := httptest.NewRequest("POST", "/v1/acl/tokens", nil)
	if err := authorize(caller{Name: "ci", Role: api.ACLOperator}, api.ACLAdmin, r); err == nil || err.Code != api.CodeForbidden ||
		err.Message != "token ci (role operator) may not POST /v1/acl/tokens: that needs role admin" {
		t.Errorf("authorize: %v", err)
	}
	if err := authorize(socketCaller, api.ACLAdmin, r); err != nil {
		t.Errorf("the socket is admin: %v", err)
	}
}

// FuzzAuthenticate: no Authorization header panics the middleware; only
// the one real token gets in; a refusal is 401, one line, and never
// repeats the header (it may hold a secret).
func FuzzAuthenticate(f *testing.F) {
	good := "shoal_" + strings.Repeat("Q", 43)
	tokens := fakeTokens{api.SecretHash(good): {Name: "ci", Role: api.ACLReadOnly}}
	for _, s := range []string{"Bearer " + good, "Bearer", "Bearer  ", "bearer shoal_", "Token x", "\x00", "Bearer " + good + "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/v1/cluster", nil)
		r.Header["Authorization"] = []string{header}
		c, err := authenticate(r, tokens, time.Now())
		if err == nil {
			if c.Name != "ci" || c.Secret != good {
				t.Fatalf("%q got in as %+v", header, c)
			}
			return
		}
		if err.Code != api.CodeUnauthorized || strings.Contains(err.Message, "\n") {
			t.Fatalf("%q: %v", header, err)
		}
		if len(header) > 12 && strings.Contains(err.Message, header) {
			t.Fatalf("error repeats the header: %q", err.Message)
		}
	})
}
