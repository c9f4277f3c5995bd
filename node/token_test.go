package node

import (
	"crypto/rand"
	"strings"
	"testing"
)

func TestJoinTokenRoundTrip(t *testing.T) {
	var tok JoinToken
	rand.Read(tok.Digest[:])
	rand.Read(tok.Secret[:])
	s := tok.String()
	if !strings.HasPrefix(s, "SHOAL-1-") || len(s) != len("SHOAL-1-")+digestChars+1+secretChars {
		t.Fatalf("bad shape %q", s)
	}
	got, err := ParseJoinToken(s)
	if err != nil {
		t.Fatal(err)
	}
	if got != tok {
		t.Fatalf("round trip changed the token")
	}
	var zero JoinToken
	if got, err := ParseJoinToken(zero.String()); err != nil || got != zero {
		t.Fatalf("zero token: %v", err)
	}
}

func TestParseJoinTokenErrors(t *testing.T) {
	var tok JoinToken
	good := tok.String()
	for in, want := range map[string]string{
		"":                                     "not a Shoal join token",
		"SWMTKN-1-abc-def":                     "not a Shoal join token",
		strings.Replace(good, "-1-", "-2-", 1): "version",
		good[:len(good)-1]:                     "secret must be 25",
		strings.Replace(good, "-0", "-0z", 1)[:len(good)]: "digest must be 50",
		good[:len(good)-1] + "!":                          "not base36",
		good[:len(good)-25] + strings.Repeat("z", 25):     "does not fit",
	} {
		_, err := ParseJoinToken(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseJoinToken(%q) = %v, want error containing %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	}
}

func FuzzParseJoinToken(f *testing.F) {
	var tok JoinToken
	f.Add(tok.String())
	f.Add("SHOAL-1--")
	f.Add("SHOAL-1-" + strings.Repeat("z", 50) + "-" + strings.Repeat("z", 25))
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseJoinToken(s)
		if err != nil {
			return
		}
		again, err := ParseJoinToken(got.String())
		if err != nil || again != got {
			t.Fatalf("reformatted token does not parse back: %v", err)
		}
	})
}
