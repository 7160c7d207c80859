package loki

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/opshub/opshub/sinks"
)

// Config is the loki destination's own keys (docs/config.md). Auth, TLS,
// headers and timeout are read by sinks.NewHTTPClient, not here.
type Config struct {
	// URL is the push endpoint, e.g. https://logs.example.com/loki/api/v1/push.
	URL string `yaml:"url"`
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

// decodeConfig reads the destination's keys from the sink's raw node.
func decodeConfig(spec sinks.Spec) (Config, error) {
	var c Config
	if err := sinks.DecodeRaw(spec, &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	return c, nil
}

// Validate reports every bad key at once.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url: want an http or https URL, got %q", c.URL))
	}
	for name := range c.Labels {
		if !labelName.MatchString(name) {
			errs = append(errs, fmt.Errorf("labels: %q is not a valid Loki label name", name))
		}
		if reserved(name) {
			errs = append(errs, fmt.Errorf("labels: %q is set by opshub itself", name))
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
