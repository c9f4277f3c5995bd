package api

import (
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	good := map[string]int64{
		"0": 0, "512": 512, "64MiB": 64 << 20, "1GiB": 1 << 30, "512M": 512 << 20,
		"100k": 100 << 10, "1.5G": 3 << 29, " 2 gb ": 2 << 30, "1b": 1, "7KB": 7 << 10,
		"1T": 1 << 40, "0.5KiB": 512, "1.0001k": 1024,
	}
	for in, want := range good {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"": "want a number", "MiB": "want a number", "-5M": "want a number", "5X": `unknown unit "X"`,
		"1..5M": "bad number", ".5M": "bad number", "5.M": "bad number", "9999999999P": "too large",
		"1e5": `unknown unit "e5"`,
	}
	for in, want := range bad {
		_, err := ParseBytes(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseBytes(%q) error = %v; want it to contain %q", in, err, want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	cases := map[int64]string{0: "0B", 512: "512B", 1024: "1KiB", 64 << 20: "64MiB", 3 << 29: "1.5GiB", 1<<30 + 1: "1GiB", 1 << 50: "1PiB", 1 << 60: "1024PiB", 1536: "1.5KiB"}
	for in, want := range cases {
		if got := FormatBytes(in); got != want {
			t.Errorf("FormatBytes(%d) = %q; want %q", in, got, want)
		}
	}
}

func TestParseCPU(t *testing.T) {
	good := map[string]int64{"0.5": 5e8, "2": 2e9, "1.25": 125e7, "500m": 5e8, "0.000000001": 1, ".5": 5e8, "1500m": 15e8, "0.5m": 5e5}
	for in, want := range good {
		got, err := ParseCPU(in)
		if err != nil || got != want {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "-1", "1.", "abc", "0.0000000001", "1,5", "99999999", "1e3", "m"} {
		if v, err := ParseCPU(in); err == nil {
			t.Errorf("ParseCPU(%q) = %d; want an error", in, v)
		}
	}
}

func TestFormatCPU(t *testing.T) {
	cases := map[int64]string{0: "0", 5e8: "0.5", 2e9: "2", 125e7: "1.25", 1: "0.000000001"}
	for in, want := range cases {
		if got := FormatCPU(in); got != want {
			t.Errorf("FormatCPU(%d) = %q; want %q", in, got, want)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"64MiB", "1.5G", "0", "", "1..2k", "9999999999999999999999P", "100k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseBytes(%q) = %d < 0", s, n)
		}
		back, err := ParseBytes(FormatBytes(n))
		if err != nil {
			t.Fatalf("ParseBytes(FormatBytes(%d)=%q): %v", n, FormatBytes(n), err)
		}
		if diff := n - back; diff < 0 || float64(diff) > float64(n)*0.01 {
			t.Fatalf("round trip of %d via %q gave %d", n, FormatBytes(n), back)
		}
	})
}

func FuzzParseCPU(f *testing.F) {
	for _, s := range []string{"0.5", "2", "500m", "", ".", "1.0000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseCPU(s)
		if err != nil {
			return
		}
		if n < 0 || n > MaxNanoCPUs {
			t.Fatalf("ParseCPU(%q) = %d out of range", s, n)
		}
		back, err := ParseCPU(FormatCPU(n))
		if err != nil || back != n {
			t.Fatalf("round trip of %d via %q gave %d, %v", n, FormatCPU(n), back, err)
		}
	})
}
