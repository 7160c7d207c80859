package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
)

// DefaultIndex is the index pattern when the sink sets none: one index per
// UTC day.
const DefaultIndex = "opshub-%Y.%m.%d"

// Plugin is the elasticsearch destination type.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return &Config{Index: DefaultIndex} }, New: New}

// Config is the elasticsearch destination's own keys (docs/config.md).
type Config struct {
	// URL is the cluster's base URL; the destination posts to URL/_bulk.
	URL string `yaml:"url"`
	// Index is the target index, with %Y, %m, %d and %H replaced from each
	// record's time in UTC (%% is a literal %).
	Index string `yaml:"index"`
	// Pipeline is an ingest pipeline to run on every document.
	Pipeline string `yaml:"pipeline"`
	// Compression is none or gzip.
	Compression string `yaml:"compression"`
	// ClientConfig holds auth, tls, headers, timeout and proxyURL.
	outbound.ClientConfig `yaml:",inline"`
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	errs := []error{outbound.CheckURLKey("url", c.URL), c.ClientConfig.Validate(), sinks.CheckCompression(c.Compression)}
	if ip, err := parseIndexPattern(c.Index); err != nil {
		errs = append(errs, fmt.Errorf("index: %w", err))
	} else {
		for _, p := range ip.parts {
			if p.text != strings.ToLower(p.text) {
				errs = append(errs, fmt.Errorf("index: %q must be lowercase (Elasticsearch refuses other names)", c.Index))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// bulkURL is the _bulk endpoint under the configured base URL, keeping its
// query (VictoriaLogs, for one, takes its field mapping from there).
func bulkURL(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	if !strings.HasSuffix(u.Path, "/_bulk") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/_bulk"
	}
	return u.String()
}
