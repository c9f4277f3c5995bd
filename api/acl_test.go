package api

import (
	"strings"
	"testing"
	"time"
)

func TestACLRolesAreOrdered(t *testing.T) {
	cases := []struct {
		have, need ACLRole
		ok         bool
	}{
		{ACLAdmin, ACLAdmin, true}, {ACLAdmin, ACLReadOnly, true}, {ACLOperator, ACLOperator, true},
		{ACLOperator, ACLAdmin, false}, {ACLReadOnly, ACLOperator, false}, {ACLReadOnly, ACLReadOnly, true},
		{"root", ACLReadOnly, false}, {"", ACLReadOnly, false},
	}
	for _, c := range cases {
		if got := c.have.Allows(c.need); got != c.ok {
			t.Errorf("%q.Allows(%q) = %v", c.have, c.need, got)
		}
	}
	if _, err := ParseACLRole("readonly"); err == nil || err.Error() != `role "readonly" is not one of admin, operator, read-only` {
		t.Errorf("ParseACLRole(readonly) = %v", err)
	}
}

func TestAPITokenFormAndHash(t *testing.T) {
	a, b := NewAPIToken(), NewAPIToken()
	if a == b || !strings.HasPrefix(a, "shoal_") || len(a) != len("shoal_")+43 {
		t.Fatalf("tokens %q %q", a, b)
	}
	if got, err := ParseAPIToken(" " + a + "\n"); err != nil || got != a {
		t.Fatalf("ParseAPIToken(%q) = %q, %v", a, got, err)
	}
	if SecretHash(a) == SecretHash(b) || len(SecretHash(a)) != 64 {
		t.Fatalf("hashes %s %s", SecretHash(a), SecretHash(b))
	}
	for in, want := range map[string]string{
		"SHOAL-1-abc-def":                  "that is a join token",
		"Bearer x":                         "not a Shoal API token",
		"shoal_short":                      "want 43 characters after shoal_, got 5",
		"shoal_" + strings.Repeat("!", 43): "must be base64url",
	} {
		if _, err := ParseAPIToken(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseAPIToken(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestACLTokenExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	never := &ACLToken{}
	soon := &ACLToken{ExpiresAt: now.Add(time.Second)}
	if never.Expired(now.Add(100*365*24*time.Hour)) || soon.Expired(now) || !soon.Expired(now.Add(time.Second)) {
		t.Fatal("expiry")
	}
}

// FuzzParseAPIToken: never panics; what it accepts has the token form; a
// refusal is one line and never repeats the input (it may be a secret).
func FuzzParseAPIToken(f *testing.F) {
	f.Add(NewAPIToken())
	f.Add("SHOAL-1-x-y")
	f.Add("shoal_")
	f.Add("shoal_" + strings.Repeat("A", 43))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAPIToken(s)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line: %q", msg)
			}
			if body := strings.TrimSpace(s); len(body) > 8 && strings.Contains(msg, body) {
				t.Fatalf("error repeats the input: %q", msg)
			}
			return
		}
		if !strings.HasPrefix(got, apiTokenPrefix) || len(got) != len(apiTokenPrefix)+apiTokenChars {
			t.Fatalf("accepted %q", got)
		}
	})
}
