// Package plugintest builds a plugin's settings in tests the way config
// builds them at start-up (config.DecodePlugin): strict keys, defaults,
// ${VAR}, secret files, Validate. It is test support only.
package plugintest

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/sinks"
)

// Decode decodes keys into settings (which hold the type's defaults) and
// fails the test on any error. keys is YAML text, a *yaml.Node, or any
// value yaml.v3 can encode (a map of keys).
func Decode[T config.PluginConfig](t testing.TB, settings T, keys any) T {
	t.Helper()
	if err := DecodeErr(settings, keys); err != nil {
		t.Fatalf("decode settings: %v", err)
	}
	return settings
}

// DecodeErr is Decode returning the error: for tests of Validate.
func DecodeErr(settings config.PluginConfig, keys any) error {
	var n yaml.Node
	switch k := keys.(type) {
	case string:
		if err := yaml.Unmarshal([]byte(k), &n); err != nil {
			return err
		}
	case *yaml.Node:
		n = *k
	default:
		if err := n.Encode(k); err != nil {
			return err
		}
	}
	return config.DecodePlugin(&n, settings)
}

// NewSink builds a destination of plugin p from keys as the binary does
// (settings decoded as config decodes them) and closes it when the test
// ends.
func NewSink(t testing.TB, p sinks.Plugin, spec sinks.Spec, keys any) sinks.Destination {
	t.Helper()
	spec.Settings = Decode(t, p.Settings(), keys)
	d, err := p.New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Refusal is keys a plugin's settings must refuse, with a part of the
// message that says why.
type Refusal struct {
	Name, Keys, Want string
}

// CheckRefusals checks that settings decoded from each case's keys are
// refused with a message containing its Want.
func CheckRefusals(t *testing.T, settings func() config.PluginConfig, cases []Refusal) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			err := DecodeErr(settings(), c.Keys)
			if err == nil || !strings.Contains(err.Error(), c.Want) {
				t.Fatalf("settings from %q: error %v, want one containing %q", c.Keys, err, c.Want)
			}
		})
	}
}
