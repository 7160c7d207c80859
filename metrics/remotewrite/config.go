package remotewrite

import (
	"errors"
	"fmt"

	"github.com/opshub/opshub/outbound"
)

// Type is the sink type in the config file.
const Type = "prometheus-remote-write"

// Config is a prometheus-remote-write sink's own keys (docs/config.md).
type Config struct {
	// URL is the remote write endpoint.
	URL string `yaml:"url"`
	// ClientConfig holds auth, tls (client certificates and minVersion
	// included), headers, timeout and proxyURL.
	outbound.ClientConfig `yaml:",inline"`
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	return errors.Join(outbound.CheckURLKey("url", c.URL), c.ClientConfig.Validate())
}

// checkName names the sink in a message about its config.
func checkName(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("remote write %q: %w", name, err)
}
