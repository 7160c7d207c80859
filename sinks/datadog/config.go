package datadog

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opshub/opshub/outbound"
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

// Plugin is the datadog destination type.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return &Config{Source: "opshub", Compression: "gzip"} }, New: New}

// Config is the datadog destination's own keys (docs/config.md).
type Config struct {
	// APIKey is sent as DD-API-KEY; config reads apiKeyFile into it.
	APIKey string `yaml:"apiKey" config:"secret"`
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
	// Timeout bounds one request; default 30s.
	Timeout time.Duration `yaml:"timeout"`
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("apiKey: is required (or apiKeyFile)"))
	}
	if c.URL != "" {
		errs = append(errs, outbound.CheckURLKey("url", c.URL))
	} else if _, err := intakeURL(c.Site); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, sinks.CheckCompression(c.Compression), c.client().Validate())
	return errors.Join(errs...)
}

// client is the one client key a datadog sink accepts.
func (c *Config) client() outbound.ClientConfig { return outbound.ClientConfig{Timeout: c.Timeout} }

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
