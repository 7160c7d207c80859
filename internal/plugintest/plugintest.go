// Package plugintest builds a plugin's settings in tests the way config
// builds them at start-up (config.DecodePlugin): strict keys, defaults,
// ${VAR}, secret files, Validate. It is test support only.
package plugintest

import (
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/config"
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
