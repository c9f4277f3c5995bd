package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoal-project/shoal/node"
)

// TestJoinTokenSources checks where the join token comes from and that
// $SHOAL_JOIN_TOKEN never stays in the environment tasks inherit.
func TestJoinTokenSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("  SHOAL-1-from-file  \nsecond line\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	cases := []struct {
		name    string
		flag    string
		file    string
		env     string
		want    string
		wantErr string
	}{
		{name: "flag wins", flag: "SHOAL-1-flag", file: file, env: "SHOAL-1-env", want: "SHOAL-1-flag"},
		{name: "file before env", file: file, env: "SHOAL-1-env", want: "SHOAL-1-from-file"},
		{name: "env", env: " SHOAL-1-env\n", want: "SHOAL-1-env"},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: "token file: " + filepath.Join(dir, "nope") + ": no such file"},
		{name: "empty file", file: empty, wantErr: "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := node.Config{Token: c.flag, TokenFile: c.file}
			if c.env != "" {
				t.Setenv(joinTokenEnv, c.env)
			}
			err := resolveJoinToken(&cfg, c.flag != "")
			if _, still := os.LookupEnv(joinTokenEnv); still {
				t.Fatalf("%s left in the environment", joinTokenEnv)
			}
			switch {
			case c.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err %v, want one line containing %q", err, c.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case cfg.Token != c.want:
				t.Fatalf("token %q, want %q", cfg.Token, c.want)
			}
		})
	}
}
