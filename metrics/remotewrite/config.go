package remotewrite

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Type is the sink type in the config file.
const Type = "prometheus-remote-write"

// rawConfig is the sink's own keys, as the config package checked them
// (secrets given as <key>File already hold the file's content in <key>).
type rawConfig struct {
	URL     string            `yaml:"url"`
	Headers map[string]string `yaml:"headers"`
	Timeout string            `yaml:"timeout"`
	Auth    struct {
		Basic *struct {
			Username string `yaml:"username"`
			Password string `yaml:"password"`
		} `yaml:"basic"`
		Bearer *struct {
			Token string `yaml:"token"`
		} `yaml:"bearer"`
	} `yaml:"auth"`
	TLS struct {
		CAFile             string `yaml:"caFile"`
		ServerName         string `yaml:"serverName"`
		InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
	} `yaml:"tls"`
}

// ConfigFromYAML reads a prometheus-remote-write sink's keys.
func ConfigFromYAML(name string, raw *yaml.Node) (Config, error) {
	var rc rawConfig
	if raw != nil {
		if err := raw.Decode(&rc); err != nil {
			return Config{}, fmt.Errorf("sink %q: %w", name, err)
		}
	}
	cfg := Config{Name: name, URL: rc.URL, Headers: rc.Headers,
		CAFile: rc.TLS.CAFile, ServerName: rc.TLS.ServerName, InsecureSkipVerify: rc.TLS.InsecureSkipVerify}
	if rc.Timeout != "" {
		d, err := time.ParseDuration(rc.Timeout)
		if err != nil {
			return Config{}, fmt.Errorf("sink %q: timeout: %w", name, err)
		}
		cfg.Timeout = d
	}
	if b := rc.Auth.Basic; b != nil {
		cfg.Username, cfg.Password = b.Username, b.Password
	}
	if b := rc.Auth.Bearer; b != nil {
		cfg.BearerToken = b.Token
	}
	return cfg, nil
}
