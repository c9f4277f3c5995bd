package textutil

import (
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"plain":                   "plain",
		"  padded  ":              "padded",
		"keeps  inner  spaces":    "keeps  inner  spaces",
		"first\nsecond":           "first second",
		"a\r\n  b \n\n c\t d":     "a b c d",
		"trailing newline\n":      "trailing newline",
		"rpc error:\n\tcode = 14": "rpc error: code = 14",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
		if strings.ContainsAny(OneLine(in), "\r\n") {
			t.Errorf("OneLine(%q) still has a line break", in)
		}
	}
}
