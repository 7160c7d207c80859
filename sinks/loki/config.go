package loki

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
)

// Plugin is the loki destination type.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return &Config{} }, New: New}

// Config is the loki destination's own keys (docs/config.md).
type Config struct {
	// URL is the push endpoint, e.g. https://logs.example.com/loki/api/v1/push.
	URL string `yaml:"url"`
	// ClientConfig holds auth, tls, headers, timeout and proxyURL.
	outbound.ClientConfig `yaml:",inline"`
	// TenantID, when set, is sent as X-Scope-OrgID.
	TenantID string `yaml:"tenantID"`
	// Labels are static labels added to every stream.
	Labels map[string]string `yaml:"labels"`
	// LabelKeys are enrichment label keys promoted to stream labels; every
	// other enrichment label travels as structured metadata so that the
	// number of streams stays bounded.
	LabelKeys []string `yaml:"labelKeys"`
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	errs := []error{outbound.CheckURLKey("url", c.URL), c.ClientConfig.Validate()}
	for name := range c.Labels {
		if !labelName.MatchString(name) {
			errs = append(errs, fmt.Errorf("labels: %q is not a valid Loki label name", name))
		}
		if reserved(name) {
			errs = append(errs, fmt.Errorf("labels.%s: is set by opshub itself", name))
		}
	}
	for _, k := range c.LabelKeys {
		if k == "" {
			errs = append(errs, errors.New("labelKeys: empty key"))
		}
	}
	return errors.Join(errs...)
}

// reserved reports the stream labels every record gets from its Ref.
func reserved(name string) bool {
	switch name {
	case "project", "service", "container", "stream":
		return true
	}
	return false
}
