package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretNeverPrintsData checks that fmt, slog and encoding/json show a
// secret's name and size but never its data, alone or inside a TaskSpec.
func TestSecretNeverPrintsData(t *testing.T) {
	const value = "hunter2-TOP-SECRET"
	s := Secret{Name: "db-password", Data: []byte(value)}
	spec := TaskSpec{TaskID: "t1", Secrets: []Secret{s}}
	hexValue := fmt.Sprintf("%x", value)
	check := func(what, out string) {
		t.Helper()
		if strings.Contains(out, value) || strings.Contains(out, hexValue) || strings.Contains(out, "104 117 110") {
			t.Errorf("%s shows the data: %s", what, out)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		check(verb, fmt.Sprintf(verb, s))
		check(verb+" of a TaskSpec", fmt.Sprintf(verb, spec))
		check(verb+" of a pointer", fmt.Sprintf(verb, &spec))
	}
	if got := s.String(); got != `secret "db-password" (18 bytes)` {
		t.Errorf("String() = %q", got)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", s, "spec", spec)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s, "secrets", spec.Secrets)
	check("slog", buf.String())
	if !strings.Contains(buf.String(), "secret.name=db-password secret.size=18") {
		t.Errorf("slog text output %q lacks the name and size", buf.String())
	}
	for _, v := range []any{s, spec, spec.Secrets} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		check("json", string(b))
	}
	if b, _ := json.Marshal(s); string(b) != `{"name":"db-password","size":18}` {
		t.Errorf("json = %s", b)
	}
	if b, _ := json.Marshal(spec); strings.Contains(string(b), "db-password") {
		t.Errorf("a TaskSpec's JSON has its secrets: %s", b)
	}
}

func TestCheckSecretNames(t *testing.T) {
	ok := []Secret{{Name: "db-password"}, {Name: "tls.key"}, {Name: "a b"}, {Name: ".hidden"}}
	if err := CheckSecretNames(ok); err != nil {
		t.Errorf("CheckSecretNames(%v) = %v", ok, err)
	}
	for _, names := range [][]string{{""}, {"."}, {".."}, {"a/b"}, {"../etc/passwd"}, {"a\x00b"}, {strings.Repeat("x", 256)}, {"a", "b", "a"}} {
		var ss []Secret
		for _, n := range names {
			ss = append(ss, Secret{Name: n})
		}
		if err := CheckSecretNames(ss); err == nil || !strings.Contains(err.Error(), "secret") {
			t.Errorf("CheckSecretNames(%q) = %v, want an error about the secret name", names, err)
		}
	}
}

func TestSecretFSSize(t *testing.T) {
	cases := []struct {
		sizes []int
		want  int64
	}{
		{nil, 64 << 10},
		{[]int{0}, 64 << 10},
		{[]int{1}, 68 << 10},
		{[]int{4096, 4097}, 76 << 10},
		{[]int{10, 10, 10}, 76 << 10}, // a page each
	}
	for _, c := range cases {
		var ss []Secret
		for _, n := range c.sizes {
			ss = append(ss, Secret{Name: "x", Data: make([]byte, n)})
		}
		if got := secretFSSize(ss); got != c.want {
			t.Errorf("secretFSSize(%v) = %d, want %d", c.sizes, got, c.want)
		}
	}
}
