package blobs

import (
	"strings"
	"testing"
)

var (
	d1 = "sha256:" + strings.Repeat("a", 64)
	d2 = "sha256:" + strings.Repeat("b", 64)
)

func TestParseManifest(t *testing.T) {
	ociManifest := `{"schemaVersion":2,"mediaType":"` + MediaTypeOCIManifest + `","config":{"mediaType":"c","digest":"` + d1 + `","size":3},"layers":[{"mediaType":"l","digest":"` + d2 + `","size":4}]}`
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"` + MediaTypeOCIManifest + `","digest":"` + d1 + `","size":3,"platform":{"os":"linux","architecture":"amd64"}}]}`
	for _, tc := range []struct {
		name, mediaType, doc string
		kind                 manifestKind
		children             int
		err                  string
	}{
		{"oci manifest", MediaTypeOCIManifest, ociManifest, kindManifest, 2, ""},
		{"manifest type from document", "", ociManifest, kindManifest, 2, ""},
		{"index by shape", "", index, kindIndex, 1, ""},
		{"index by descriptor", MediaTypeOCIIndex, index, kindIndex, 1, ""},
		{"type conflict", MediaTypeDockerManifest, ociManifest, 0, 0, "differs from manifest's"},
		{"not json", "", "{", 0, 0, "decode manifest"},
		{"schema 1", "", `{"schemaVersion":1}`, 0, 0, "schemaVersion 1 unsupported"},
		{"unknown type", "application/x-foo", `{"schemaVersion":2}`, 0, 0, `unsupported manifest media type "application/x-foo"`},
		{"shapeless", "", `{"schemaVersion":2}`, 0, 0, "no media type"},
		{"manifest without config", MediaTypeOCIManifest, `{"schemaVersion":2,"layers":[]}`, 0, 0, "no config"},
		{"index with layers", MediaTypeOCIIndex, `{"schemaVersion":2,"manifests":[],"layers":[{"digest":"` + d1 + `"}]}`, 0, 0, "config or layers"},
		{"bad child digest", MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"digest":"sha256:1","size":1}}`, 0, 0, "descriptor 0"},
		{"negative size", MediaTypeOCIManifest, `{"schemaVersion":2,"config":{"digest":"` + d1 + `","size":-1}}`, 0, 0, "negative size"},
		{"index child not a manifest", MediaTypeOCIIndex, `{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"` + d1 + `","size":1}]}`, 0, 0, "not a manifest or index"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := parseManifest(tc.mediaType, []byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.kind != tc.kind || len(m.children) != tc.children {
				t.Fatalf("kind %d with %d children, want %d with %d", m.kind, len(m.children), tc.kind, tc.children)
			}
		})
	}
}

func TestMatchPlatform(t *testing.T) {
	arm := &platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	for _, tc := range []struct {
		want string
		p    *platform
		ok   bool
	}{
		{"linux/amd64", &platform{OS: "linux", Architecture: "amd64"}, true},
		{"linux/amd64", arm, false},
		{"linux/arm", arm, true},
		{"linux/arm/v7", arm, true},
		{"linux/arm/v6", arm, false},
		{"*", arm, true},
		{"linux/amd64", nil, true},
		{"linux", arm, false},
	} {
		if got := matchPlatform(tc.want, tc.p); got != tc.ok {
			t.Errorf("matchPlatform(%q, %+v) = %v, want %v", tc.want, tc.p, got, tc.ok)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add("", `{"schemaVersion":2,"config":{"digest":"`+d1+`","size":3},"layers":[{"digest":"`+d2+`","size":4}]}`)
	f.Add(MediaTypeOCIIndex, `{"schemaVersion":2,"manifests":[{"mediaType":"`+MediaTypeOCIManifest+`","digest":"`+d1+`","size":3}]}`)
	f.Add(MediaTypeDockerManifestList, `{"schemaVersion":2,"manifests":null}`)
	f.Add("", `{"schemaVersion":2,"config":null,"manifests":[]}`)
	f.Add(MediaTypeDockerManifest, `[]`)
	f.Add("", `null`)
	f.Fuzz(func(t *testing.T, mediaType, doc string) {
		m, err := parseManifest(mediaType, []byte(doc))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if m.kind != kindIndex && m.kind != kindManifest {
			t.Fatalf("kind %d", m.kind)
		}
		for _, c := range m.children {
			if _, err := parseDigest(c.Digest); err != nil || c.Size < 0 {
				t.Fatalf("accepted child %+v", c)
			}
		}
	})
}

func FuzzParseDigest(f *testing.F) {
	for _, s := range []string{d1, "sha512:" + strings.Repeat("0", 128), "sha256:", ":", "", "sha256:" + strings.Repeat("A", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseDigest(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("parsed %q as %q", s, d)
		}
		if got := d.sum(d.newHash()); len(got) != len(s) {
			t.Fatalf("sum %q has a different length from %q", got, s)
		}
	})
}
