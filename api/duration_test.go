package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"500ms": 500 * time.Millisecond, "1m30s": 90 * time.Second, "-2s": -2 * time.Second, "0": 0} {
		if got, err := ParseDuration(in); err != nil || got.Std() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got.Std(), err, want)
		}
	}
	for _, in := range []string{"", "soon", "5", "1x", "1s\n"} {
		_, err := ParseDuration(in)
		if err == nil || !strings.Contains(err.Error(), "bad duration") || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseDuration(%q) = %v, want a one-line bad duration error", in, err)
		}
	}
}

// TestDurationTextAndJSON checks that text (TOML) and JSON read the same
// grammar and write the same form.
func TestDurationTextAndJSON(t *testing.T) {
	var a, b Duration
	if err := a.UnmarshalText([]byte("1.5s")); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`"1.5s"`), &b); err != nil || a != b {
		t.Fatalf("text %v, JSON %v (%v): want equal", a.Std(), b.Std(), err)
	}
	txt, _ := a.MarshalText()
	js, _ := json.Marshal(a)
	if string(txt) != "1.5s" || string(js) != `"1.5s"` {
		t.Fatalf("MarshalText %s, MarshalJSON %s; want 1.5s", txt, js)
	}
	if err := json.Unmarshal([]byte(`1000`), &b); err != nil || b.Std() != time.Microsecond {
		t.Fatalf("JSON nanoseconds: %v, %v", b.Std(), err)
	}
	if err := json.Unmarshal([]byte(`"soon"`), &b); err == nil || !strings.Contains(err.Error(), `bad duration "soon"`) {
		t.Fatalf("JSON bad duration: %v", err)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"500ms", "1m30s", "-2s", "soon", "1.5h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error spans lines: %q", err)
			}
			return
		}
		txt, _ := d.MarshalText()
		var again Duration
		if err := again.UnmarshalText(txt); err != nil || again != d {
			t.Fatalf("%q: round trip through %q gave %v, %v", s, txt, again.Std(), err)
		}
	})
}
