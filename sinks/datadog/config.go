package datadog

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/opshub/opshub/sinks"
)

// DefaultSite is Datadog's US1 site.
const DefaultSite = "datadoghq.com"

// siteAliases are the region names Datadog's docs use next to the site
// domains (US1, US3, US5, EU, AP1, AP2, US1-FED).
var siteAliases = map[string]string{
	"us1": "datadoghq.com", "us3": "us3.datadoghq.com", "us5": "us5.datadoghq.com",
	"eu": "datadoghq.eu", "eu1": "datadoghq.eu", "ap1": "ap1.datadoghq.com", "ap2": "ap2.datadoghq.com",
	"gov": "ddog-gov.com", "us1-fed": "ddog-gov.com",
}

// Config is the datadog destination's own keys (docs/config.md).
type Config struct {
	// APIKey is sent as DD-API-KEY; config has read apiKeyFile into it.
	APIKey string `yaml:"apiKey"`
	// Site is a Datadog site (datadoghq.eu) or region (eu); default US1.
	Site string `yaml:"site"`
	// URL overrides the intake URL the site implies (a proxy, a test).
	URL string `yaml:"url"`
	// Service overrides the service attribute, which is otherwise the
	// record's service.
	Service string `yaml:"service"`
	// Source is ddsource; default "opshub".
	Source string `yaml:"source"`
	// Tags are added to every log's ddtags ("env:prod").
	Tags []string `yaml:"tags"`
	// Hostname is the hostname attribute; default this machine's name.
	Hostname string `yaml:"hostname"`
	// Compression is gzip (the default: the intake accepts
	// Content-Encoding: gzip, and its limits apply to the uncompressed
	// payload) or none.
	Compression string `yaml:"compression"`
}

func decodeConfig(spec sinks.Spec) (Config, error) {
	var c Config
	if err := sinks.DecodeRaw(spec, &c); err != nil {
		return Config{}, err
	}
	if c.Source == "" {
		c.Source = "opshub"
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.Compression == "" {
		c.Compression = "gzip"
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	return c, nil
}

// Validate reports every bad key at once.
func (c Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("apiKey: is required"))
	}
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("url: want an http or https URL, got %q", c.URL))
		}
	} else if _, err := intakeURL(c.Site); err != nil {
		errs = append(errs, err)
	}
	switch c.Compression {
	case "", "none", "gzip":
	default:
		errs = append(errs, fmt.Errorf("compression: want gzip or none, got %q", c.Compression))
	}
	return errors.Join(errs...)
}

// intakeURL is the logs intake endpoint of a site or region.
func intakeURL(site string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(site))
	if s == "" {
		s = DefaultSite
	}
	if a, ok := siteAliases[s]; ok {
		s = a
	}
	if strings.ContainsAny(s, "/:@ ") || !strings.Contains(s, ".") {
		return "", fmt.Errorf("site: %q is neither a Datadog site such as datadoghq.eu nor a region such as eu", site)
	}
	return "https://http-intake.logs." + s + "/api/v2/logs", nil
}
