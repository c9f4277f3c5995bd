package api

import (
	"strings"
	"testing"
)

func TestParseSignal(t *testing.T) {
	ok := map[string]Signal{
		"": SIGTERM, "SIGTERM": SIGTERM, "term": SIGTERM, " SigInt ": 2, "9": 9, "SIGQUIT": 3,
		"usr1": 10, "64": 64, "SIGSEGV": 11, "sigsys": 31, "34": 34,
	}
	for in, want := range ok {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "65", "-1", "SIGNOPE", "SIG", "TERM9", "SIGFOO", "SIGSIGTERM", "1 5"} {
		_, err := ParseSignal(in)
		if err == nil || !strings.Contains(err.Error(), "stop signal") || strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("ParseSignal(%q) error = %v, want a one-line stop signal error", in, err)
		}
	}
}

func TestSignalString(t *testing.T) {
	for sig, want := range map[Signal]string{SIGTERM: "SIGTERM", 1: "SIGHUP", 31: "SIGSYS", 34: "34", 0: "0"} {
		if got := sig.String(); got != want {
			t.Errorf("Signal(%d).String() = %q, want %q", int(sig), got, want)
		}
	}
}

func FuzzParseSignal(f *testing.F) {
	for _, s := range []string{"", "SIGTERM", "kill", "15", "99", "sig", "SIGRTMAX", "\x00", " hup "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sig, err := ParseSignal(s)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("ParseSignal(%q): error spans lines: %q", s, err)
			}
			return
		}
		if sig < 1 || sig > MaxSignal {
			t.Fatalf("ParseSignal(%q) = %d, out of range", s, sig)
		}
		var again Signal
		if err := again.UnmarshalText([]byte(sig.String())); err != nil || again != sig {
			t.Fatalf("ParseSignal(%q) = %v; reading %q back gave %v, %v", s, sig, sig.String(), again, err)
		}
	})
}
