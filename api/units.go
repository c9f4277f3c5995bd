package api

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Byte sizes in powers of two.
const (
	KiB int64 = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
	PiB
)

// byteUnits maps a lower-cased size suffix to its multiplier. Like Docker's
// --memory, the single-letter and "B" forms are binary too: "512M" and
// "512MB" both mean 512 MiB.
var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"k": KiB, "kb": KiB, "kib": KiB,
	"m": MiB, "mb": MiB, "mib": MiB,
	"g": GiB, "gb": GiB, "gib": GiB,
	"t": TiB, "tb": TiB, "tib": TiB,
	"p": PiB, "pb": PiB, "pib": PiB,
}

// ParseBytes reads a size such as "64MiB", "1GiB", "512M", "100k", "1.5G" or
// a plain number of bytes. All suffixes are binary (k = 1024) and case does
// not matter. Fractions are rounded down to a whole byte.
func ParseBytes(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] >= '0' && in[i] <= '9' || in[i] == '.') {
		i++
	}
	num, unit := in[:i], strings.ToLower(strings.TrimSpace(in[i:]))
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional unit, like 64MiB or 1G", s)
	}
	if len(num) > 32 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	mult, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KiB, MiB, GiB, TiB or k, M, G, T)", s, in[i:])
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok || strings.Count(num, ".") > 1 || strings.HasSuffix(num, ".") || strings.HasPrefix(num, ".") {
		return 0, fmt.Errorf("invalid size %q: bad number %q", s, num)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	v := new(big.Int).Quo(r.Num(), r.Denom())
	if !v.IsInt64() {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return v.Int64(), nil
}

// FormatBytes writes n in the largest binary unit that keeps it at least 1,
// with up to two decimals: 67108864 → "64MiB", 1610612736 → "1.5GiB".
func FormatBytes(n int64) string {
	if n < 0 {
		return strconv.FormatInt(n, 10) + "B"
	}
	names := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	unit, div := 0, int64(1)
	for unit < len(names)-1 && n/div >= 1024 {
		unit++
		div *= 1024
	}
	if n%div == 0 {
		return strconv.FormatInt(n/div, 10) + names[unit]
	}
	s := strconv.FormatFloat(math.Floor(float64(n)/float64(div)*100)/100, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + names[unit]
}

// MaxNanoCPUs bounds a CPU amount (one million cores).
const MaxNanoCPUs = int64(1e6 * 1e9)

// ParseCPU reads an amount of CPU in cores, such as "0.5", "2" or "1.25",
// or in millicores such as "500m", and returns it in NanoCPUs (1e9 = one
// core). More than nine decimals is an error rather than a silent rounding.
func ParseCPU(s string) (int64, error) {
	in := strings.TrimSpace(s)
	scale := int64(1e9)
	if strings.HasSuffix(in, "m") {
		in, scale = strings.TrimSuffix(in, "m"), int64(1e6)
	}
	whole, frac, hasDot := strings.Cut(in, ".")
	if whole == "" && frac == "" || !allDigits(whole) || !allDigits(frac) || hasDot && frac == "" {
		return 0, fmt.Errorf("invalid CPU amount %q: want a number of cores like 0.5 or 2, or millicores like 500m", s)
	}
	digits := 9
	if scale == int64(1e6) {
		digits = 6
	}
	if len(frac) > digits {
		return 0, fmt.Errorf("invalid CPU amount %q: too many decimals", s)
	}
	if len(whole) > 7 {
		return 0, fmt.Errorf("invalid CPU amount %q: too large", s)
	}
	var w, f int64
	if whole != "" {
		w, _ = strconv.ParseInt(whole, 10, 64)
	}
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", digits-len(frac)), 10, 64)
	}
	v := w*scale + f
	if v > MaxNanoCPUs {
		return 0, fmt.Errorf("invalid CPU amount %q: too large (at most %d cores)", s, MaxNanoCPUs/1e9)
	}
	return v, nil
}

// FormatCPU writes NanoCPUs as cores with no trailing zeros: 5e8 → "0.5".
func FormatCPU(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	s := strconv.FormatInt(n/1e9, 10)
	if f := n % 1e9; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%09d", f), "0")
	}
	return sign + s
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
