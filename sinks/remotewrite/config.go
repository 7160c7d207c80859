package remotewrite

import (
	"errors"
	"fmt"

	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
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

// Plugin is the prometheus-remote-write sink type: a sink of metric samples.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return &Config{} }, Samples: NewSink}

// NewSink builds the Writer and the Forwarder of one sink.
func NewSink(spec sinks.Spec, opts sinks.SampleOptions) (sinks.SampleSink, error) {
	cfg, err := sinks.SettingsOf[*Config](spec)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(spec.Name, cfg)
	if err != nil {
		return nil, err
	}
	return NewForwarder(w, ForwarderOptions{Logger: opts.Logger, Registerer: opts.Registerer})
}
