package api

import (
	"strings"
	"testing"
)

const testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestNormalizeImageRef(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"busybox", "docker.io/library/busybox:latest"},
		{"busybox:1", "docker.io/library/busybox:1"},
		{"library/busybox", "docker.io/library/busybox:latest"},
		{"docker.io/busybox", "docker.io/library/busybox:latest"},
		{"index.docker.io/busybox:1", "docker.io/library/busybox:1"},
		{"local/busybox:1", "docker.io/local/busybox:1"},
		{"docker.io/local/busybox:1", "docker.io/local/busybox:1"},
		{"shoal/hello:v1", "docker.io/shoal/hello:v1"},
		{"a/b/c", "docker.io/a/b/c:latest"},
		{"127.0.0.1:5000/x:2", "127.0.0.1:5000/x:2"},
		{"127.0.0.1:5000/shoal/hello", "127.0.0.1:5000/shoal/hello:latest"},
		{"registry.local/team/app:1.2", "registry.local/team/app:1.2"},
		{"localhost/app", "localhost/app:latest"},
		{"localhost:5000/app:v1.0-rc_1", "localhost:5000/app:v1.0-rc_1"},
		{"[::1]:5000/app:1", "[::1]:5000/app:1"},
		{"busybox@" + testDigest, "docker.io/library/busybox@" + testDigest},
		{"localhost/app@" + testDigest, "localhost/app@" + testDigest},
		{"local/busybox:1@" + testDigest, "docker.io/local/busybox@" + testDigest},
	} {
		got, err := NormalizeImageRef(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeImageRef(%q) = %q, %v; want %q", c.in, got, err, c.want)
			continue
		}
		if again, err := NormalizeImageRef(got); err != nil || again != got {
			t.Errorf("NormalizeImageRef(%q) = %q, %v; not a fixed point", got, again, err)
		}
	}
}

func TestNormalizeImageRefErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "image reference is empty"},
		{"Busybox", "must be lowercase"},
		{"local/BusyBox:1", "must be lowercase"},
		{"busybox:", "invalid reference format"},
		{"busybox:bad tag", "invalid reference format"},
		{" busybox", "invalid reference format"},
		{"busybox\n", "invalid reference format"},
		{"busybox@sha256:abc", "invalid"},
		{"a//b", "invalid reference format"},
		{"busybox:" + strings.Repeat("t", 129), "invalid reference format"},
		{strings.Repeat("0", 64), "64-byte hexadecimal"},
		{"http://registry/x", "invalid reference format"},
	} {
		got, err := NormalizeImageRef(c.in)
		if err == nil {
			t.Errorf("NormalizeImageRef(%q) = %q, want an error", c.in, got)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("NormalizeImageRef(%q) error %q; want one line containing %q", c.in, msg, c.want)
		}
	}
}

func TestFamiliarImageRef(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox:latest":    "busybox:latest",
		"docker.io/local/busybox:1":           "local/busybox:1",
		"127.0.0.1:5000/x:2":                  "127.0.0.1:5000/x:2",
		"docker.io/library/app@" + testDigest: "app@" + testDigest,
		"Not A Ref":                           "Not A Ref",
	} {
		if got := FamiliarImageRef(in); got != want {
			t.Errorf("FamiliarImageRef(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNamesRegistry(t *testing.T) {
	for in, want := range map[string]bool{
		"busybox":                   false,
		"local/busybox:1":           false,
		"a/b/c":                     false,
		"docker.io/local/busybox:1": true,
		"127.0.0.1:5000/x":          true,
		"registry.local/team/app":   true,
		"localhost/app":             true,
		"localhost:5000/app":        true,
		"Registry/app":              true,
		"busybox@" + testDigest:     false,
	} {
		if got := NamesRegistry(in); got != want {
			t.Errorf("NamesRegistry(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzNormalizeImageRef: the parser never panics, its errors are one line,
// its result is a fixed point that names a registry and reads back to the
// same image through the familiar form.
func FuzzNormalizeImageRef(f *testing.F) {
	for _, s := range []string{"busybox", "local/busybox:1", "127.0.0.1:5000/a/b:c", "a@" + testDigest, "x:1@" + testDigest, "Bad Ref", "", ":", "[::1]:5000/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeImageRef(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		again, err := NormalizeImageRef(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeImageRef(%q) = %q, not a fixed point (%q, %v)", s, n, again, err)
		}
		if !NamesRegistry(n) {
			t.Fatalf("NormalizeImageRef(%q) = %q names no registry", s, n)
		}
		if back, err := NormalizeImageRef(FamiliarImageRef(n)); err != nil || back != n {
			t.Fatalf("familiar form of %q reads back as %q, %v", n, back, err)
		}
	})
}
