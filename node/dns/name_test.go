package dns

import (
	"strings"
	"testing"
)

func TestParseName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want name
	}{
		{"web", name{kind: kindService, service: "web"}},
		{"web.", name{kind: kindService, service: "web"}},
		{"WEB.Shoal.", name{kind: kindService, inZone: true, service: "web"}},
		{"shoal.", name{kind: kindApex, inZone: true}},
		{"SHOAL", name{kind: kindApex, inZone: true}},
		{"tasks.web.shoal", name{kind: kindTasks, inZone: true, service: "web"}},
		{"tasks.web.", name{kind: kindTasks, service: "web"}},
		{"tasks.shoal.", name{kind: kindService, inZone: true, service: "tasks"}},
		{"3.web.shoal.", name{kind: kindTask, inZone: true, service: "web", label: "3"}},
		{"_http._tcp.web.shoal.", name{kind: kindSRV, inZone: true, service: "web", port: "http", proto: "tcp"}},
		{"_DNS._UDP.web.", name{kind: kindSRV, service: "web", port: "dns", proto: "udp"}},
		{"_http._sctp.web.shoal.", name{inZone: true}},
		{"http._tcp.web.shoal.", name{inZone: true}},
		{"a.b.c.web.shoal.", name{inZone: true}},
		{"we_b.shoal.", name{inZone: true}},
		{"-web.shoal.", name{inZone: true}},
		{"web\\.x.shoal.", name{inZone: true}},
		{"\u212Aweb.shoal.", name{inZone: true}}, // the Kelvin sign folds to k in Unicode, not in DNS
		{"web..shoal.", name{inZone: true}},
		{"example.com.", name{kind: kindTask, service: "com", label: "example"}},
		{"www.example.com.", name{}},
		{".", name{}},
		{"", name{}},
		{"xshoal.", name{kind: kindService, service: "xshoal"}},
		{strings.Repeat("a", 64) + ".shoal.", name{inZone: true}},
	} {
		if got := parseName(tc.in); got != tc.want {
			t.Errorf("parseName(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// FuzzParseName checks parseName on any input: it does not panic, the
// parts it returns are valid labels, upper case changes nothing, and the
// name it describes parses back to the same parts.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"web", "tasks.web.shoal.", "_http._tcp.web.shoal", "3.Web.SHOAL.", "a.b.c.d", "\\046.shoal", "shoal", "..", "_._tcp.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := parseName(s)
		if upper := parseName(strings.ToUpper(s)); isASCII(s) && upper != n {
			t.Fatalf("parseName(%q) = %+v, but upper case gives %+v", s, n, upper)
		}
		var rebuilt string
		switch n.kind {
		case kindOther:
			return
		case kindApex:
			if !n.inZone {
				t.Fatalf("%q: apex outside the zone", s)
			}
			return
		case kindService:
			rebuilt = n.service
		case kindTasks:
			rebuilt = "tasks." + n.service
		case kindTask:
			if !validLabel(n.label) {
				t.Fatalf("%q: bad label %q", s, n.label)
			}
			rebuilt = n.label + "." + n.service
		case kindSRV:
			if !validLabel(n.port) || (n.proto != "tcp" && n.proto != "udp") {
				t.Fatalf("%q: bad port %q or protocol %q", s, n.port, n.proto)
			}
			rebuilt = "_" + n.port + "._" + n.proto + "." + n.service
		}
		if !validLabel(n.service) {
			t.Fatalf("%q: bad service %q", s, n.service)
		}
		if n.inZone {
			rebuilt += "." + Zone
		}
		if again := parseName(rebuilt + "."); again != n {
			t.Fatalf("%q parsed as %+v; rebuilt %q parses as %+v", s, n, rebuilt, again)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
