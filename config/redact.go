package config

import (
	"bytes"

	"gopkg.in/yaml.v3"
)

// Redacted renders the effective config (every default applied, paths
// absolute, variables expanded) as YAML for `opshub check-config` and the
// API. Every secret prints as "<secret>". A sink's or integration's own
// keys print as its settings hold them (see plugin.go), so a secret its
// config read from a <key>File prints as <key>: <secret>.
func (c *Config) Redacted() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
