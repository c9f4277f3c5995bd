package api

import "testing"

func TestNormalizeImageRef(t *testing.T) {
	for in, want := range map[string]string{
		"hello":                       "docker.io/library/hello:latest",
		"shoal/hello:v1":              "docker.io/shoal/hello:v1",
		"docker.io/shoal/hello:v1":    "docker.io/shoal/hello:v1",
		"127.0.0.1:5000/shoal/hello":  "127.0.0.1:5000/shoal/hello:latest",
		"localhost/app@sha256:abc":    "localhost/app@sha256:abc",
		"registry.local/team/app:1.2": "registry.local/team/app:1.2",
	} {
		if got := NormalizeImageRef(in); got != want {
			t.Errorf("NormalizeImageRef(%q) = %q, want %q", in, got, want)
		}
	}
}
