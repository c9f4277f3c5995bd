package api

import (
	"encoding/json"
	"fmt"
	"time"
)

// ParseDuration reads a duration in Go's syntax ("500ms", "1m30s", "-2s").
// It is the one duration grammar of Shoal: spec fields in JSON and the
// agent's TOML configuration both use it. Whether a negative duration is
// allowed is for the field's validation to say.
func ParseDuration(s string) (Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. \"500ms\" or \"1m30s\")", s)
	}
	return Duration(v), nil
}

// MarshalText writes d as a duration string ("1.5s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration string with ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes d as a duration string ("1.5s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a duration string (ParseDuration) or, for JSON only,
// a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		return d.UnmarshalText([]byte(s))
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration must be a string like \"5s\" or nanoseconds")
	}
	*d = Duration(n)
	return nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
