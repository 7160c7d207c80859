package sinks

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DecodeRaw decodes the destination's own keys (Spec.Raw) into v, a pointer
// to the destination's settings struct with yaml tags. Config has already
// checked the keys, so this only moves values into place. A nil Raw leaves v
// as it is.
func DecodeRaw(spec Spec, v any) error {
	if spec.Raw == nil {
		return nil
	}
	if err := spec.Raw.Decode(v); err != nil {
		return fmt.Errorf("sink %q: decode %s settings: %w", spec.Name, spec.Type, err)
	}
	return nil
}

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

// UnmarshalYAML reads a size from a scalar.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// Duration is a Go duration written as a string ("90s", "15m").
type Duration time.Duration

// UnmarshalYAML reads a duration from a scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 90s or 15m", n.Value)
	}
	*d = Duration(v)
	return nil
}
