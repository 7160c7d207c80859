package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeSuffixes are the multipliers parseSize understands, longest first so
// that "Mi" is tried before "M". Binary suffixes follow Kubernetes quantities
// and the opshub config; the decimal ones are there because users type them.
var sizeSuffixes = []struct {
	suffix string
	mult   int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
}

// parseSize parses a byte count: a plain integer ("1000"), or a number with a
// binary suffix Ki, Mi, Gi, Ti (powers of 1024) or a decimal suffix k, M, G, T
// (powers of 1000). Fractions are allowed with a suffix ("1.5Gi"); the result
// is rounded down to whole bytes.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	num, mult := s, int64(1)
	for _, sf := range sizeSuffixes {
		if strings.HasSuffix(s, sf.suffix) {
			num, mult = strings.TrimSuffix(s, sf.suffix), sf.mult
			break
		}
	}
	if num == "" {
		return 0, fmt.Errorf("size %q: no number", s)
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("size %q: negative", s)
		}
		if n > math.MaxInt64/mult {
			return 0, fmt.Errorf("size %q: too large", s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want bytes, or a number with Ki, Mi, Gi, Ti, k, M, G or T", s)
	}
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return 0, fmt.Errorf("size %q: not a number", s)
	case f < 0:
		return 0, fmt.Errorf("size %q: negative", s)
	case f*float64(mult) >= math.MaxInt64:
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return int64(f * float64(mult)), nil
}

// parseRate parses a size per second, with or without a trailing "/s".
func parseRate(s string) (int64, error) {
	return parseSize(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
}

// formatSize renders n with the largest binary suffix that divides it
// exactly, so that what a user typed as "256Mi" prints back the same.
func formatSize(n int64) string {
	for _, sf := range []struct {
		suffix string
		mult   int64
	}{{"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if n != 0 && n%sf.mult == 0 {
			return strconv.FormatInt(n/sf.mult, 10) + sf.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// sizeValue is a flag.Value for byte counts; per makes it a rate that also
// accepts a "/s" suffix.
type sizeValue struct {
	p   *int64
	per bool
}

func (v sizeValue) String() string {
	if v.p == nil {
		return "0"
	}
	return formatSize(*v.p)
}

func (v sizeValue) Set(s string) error {
	parse := parseSize
	if v.per {
		parse = parseRate
	}
	n, err := parse(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}
