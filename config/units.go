package config

import (
	"errors"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a Go duration written as a string ("90s", "15m", "1h30m").
// Negative durations are rejected. It marshals back as the same kind of string.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String renders the duration without trailing zero units: "15m", "1h30m", "90ms".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// MarshalText renders the duration as a string, for JSON and YAML.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalYAML renders the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalText parses a Go duration.
func (d *Duration) UnmarshalText(b []byte) error { return d.setText(string(b)) }

// UnmarshalYAML parses a Go duration from a scalar node, so that packages
// decoding a Sink.Raw or Integration.Raw node can use Duration fields.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return unmarshalScalar(n, d) }

func (d *Duration) setText(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, numErr := strconv.ParseFloat(strings.TrimSpace(s), 64); numErr == nil {
			return errors.New("must be a duration with a unit, such as 30s or 15m")
		}
		return errors.New("must be a duration such as 90s, 15m or 1h30m")
	}
	if v < 0 {
		return errors.New("must not be negative")
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a number of bytes, written as a plain number ("512"), with a
// binary suffix ("256Ki", "10Mi", "1Gi", "Ti", "Pi", "Ei") or with a decimal
// one ("1k", "1M", "1G", "T", "P", "E"). Fractions are allowed ("1.5Gi") and
// rounded up to a whole byte. It marshals back as a string.
type ByteSize int64

// Byte size units.
const (
	KiB ByteSize = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"Ei", 1 << 60}, {"Pi", 1 << 50}, {"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10},
	{"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}, {"K", 1e3},
}

// String renders the size with the largest unit that divides it exactly,
// preferring binary units: "256Ki", "1Gi", "1G", "512".
func (b ByteSize) String() string {
	if b != 0 {
		for _, u := range sizeUnits {
			if u.suffix == "K" {
				continue
			}
			if int64(b)%u.factor == 0 {
				return strconv.FormatInt(int64(b)/u.factor, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText renders the size as a string, for JSON and YAML.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// MarshalYAML renders the size as a string, or as a number when it has no unit.
func (b ByteSize) MarshalYAML() (any, error) {
	if s := b.String(); s != strconv.FormatInt(int64(b), 10) {
		return s, nil
	}
	return int64(b), nil
}

// UnmarshalText parses a size.
func (b *ByteSize) UnmarshalText(t []byte) error { return b.setText(string(t)) }

// UnmarshalYAML parses a size from a scalar node.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error { return unmarshalScalar(n, b) }

func (b *ByteSize) setText(s string) error {
	const want = "must be a size such as 512, 256Ki, 10Mi, 1Gi or 1G"
	num, suffix, ok := splitQuantity(s)
	if !ok {
		return errors.New(want)
	}
	factor := int64(-1)
	if suffix == "" {
		factor = 1
	}
	for _, u := range sizeUnits {
		if u.suffix == suffix {
			factor = u.factor
		}
	}
	if factor < 0 {
		return errors.New(want)
	}
	v, ok := scaleCeil(num, factor)
	if !ok {
		return errors.New("is too large")
	}
	*b = ByteSize(v)
	return nil
}

// CPU is an amount of CPU in millicores, written like Kubernetes quantities:
// "500m", "0.5", "1", "2", or a YAML number. Amounts finer than a millicore
// are rounded up. It marshals back as a string ("500m", "2").
type CPU int64

// Cores returns the amount in cores.
func (c CPU) Cores() float64 { return float64(c) / 1000 }

// String renders whole cores as a number and anything else in millicores.
func (c CPU) String() string {
	if c%1000 == 0 {
		return strconv.FormatInt(int64(c)/1000, 10)
	}
	return strconv.FormatInt(int64(c), 10) + "m"
}

// MarshalText renders the amount as a string, for JSON and YAML.
func (c CPU) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// MarshalYAML renders the amount as a string.
func (c CPU) MarshalYAML() (any, error) { return c.String(), nil }

// UnmarshalText parses an amount of CPU.
func (c *CPU) UnmarshalText(t []byte) error { return c.setText(string(t)) }

// UnmarshalYAML parses an amount of CPU from a scalar node.
func (c *CPU) UnmarshalYAML(n *yaml.Node) error { return unmarshalScalar(n, c) }

func (c *CPU) setText(s string) error {
	const want = "must be an amount of CPU such as 500m, 0.5 or 2"
	num, suffix, ok := splitQuantity(s)
	if !ok {
		return errors.New(want)
	}
	var v int64
	switch suffix {
	case "m":
		v, ok = scaleCeil(num, 1)
	case "":
		v, ok = scaleCeil(num, 1000)
	default:
		return errors.New(want)
	}
	if !ok {
		return errors.New("is too large")
	}
	*c = CPU(v)
	return nil
}

var quantity = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([A-Za-z]*)$`)

// splitQuantity splits "1.5Gi" into "1.5" and "Gi". Signs and exponents are
// not accepted, so a negative quantity is simply not a quantity.
func splitQuantity(s string) (num, suffix string, ok bool) {
	m := quantity.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// scaleCeil multiplies the decimal num by factor exactly and rounds up.
func scaleCeil(num string, factor int64) (int64, bool) {
	if strings.HasSuffix(num, ".") {
		num += "0"
	}
	if strings.HasPrefix(num, ".") {
		num = "0" + num
	}
	if len(num) > 40 {
		return 0, false
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt64(factor))
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// textSetter is implemented by the unit types; the decoder feeds them the
// expanded text of a scalar.
type textSetter interface {
	setText(string) error
}

// unmarshalScalar lets destination packages decode unit types from nodes
// with yaml.v3 directly.
func unmarshalScalar(n *yaml.Node, t textSetter) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{"line " + strconv.Itoa(n.Line) + ": must be a scalar"}}
	}
	if err := t.setText(n.Value); err != nil {
		return &yaml.TypeError{Errors: []string{"line " + strconv.Itoa(n.Line) + ": " + strconv.Quote(n.Value) + " " + err.Error()}}
	}
	return nil
}
