package sinks

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Size is a byte count written as config writes sizes: "512", "256Ki",
// "100Mi", "1Gi", "1.5Gi" (binary suffixes) or "1k", "10M" (decimal ones).
type Size int64

var sizeSuffixes = []struct {
	suffix string
	factor float64
}{
	{"Ei", 1 << 60}, {"Pi", 1 << 50}, {"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10},
	{"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}, {"K", 1e3},
}

// ParseSize parses a size as written in config.
func ParseSize(s string) (Size, error) {
	text := strings.TrimSpace(s)
	factor := 1.0
	for _, u := range sizeSuffixes {
		if strings.HasSuffix(text, u.suffix) {
			text, factor = strings.TrimSuffix(text, u.suffix), u.factor
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if err != nil || f < 0 || math.IsInf(f*factor, 0) || f*factor > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a size such as 512, 256Ki or 1Gi", s)
	}
	return Size(math.Ceil(f * factor)), nil
}

// UnmarshalText reads a size as config writes it.
func (z *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return errors.New("must be a size such as 512, 256Ki, 10Mi, 1Gi or 1G")
	}
	*z = v
	return nil
}

// MarshalText writes the size with the largest binary suffix that divides
// it ("100Mi"), or in bytes.
func (z Size) MarshalText() ([]byte, error) {
	for _, u := range sizeSuffixes[:6] {
		f := int64(u.factor)
		if z != 0 && int64(z)%f == 0 {
			return []byte(strconv.FormatInt(int64(z)/f, 10) + u.suffix), nil
		}
	}
	return []byte(strconv.FormatInt(int64(z), 10)), nil
}

// UnmarshalYAML reads a size from a scalar.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*z = v
	return nil
}
