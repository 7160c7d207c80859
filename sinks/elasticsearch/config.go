package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/opshub/opshub/sinks"
)

// DefaultIndex is the index pattern when the sink sets none: one index per
// UTC day.
const DefaultIndex = "opshub-%Y.%m.%d"

// Config is the elasticsearch destination's own keys (docs/config.md). Auth,
// TLS, headers and timeout are read by sinks.NewHTTPClient.
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
}

func decodeConfig(spec sinks.Spec) (Config, error) {
	c := Config{Index: DefaultIndex}
	if err := sinks.DecodeRaw(spec, &c); err != nil {
		return Config{}, err
	}
	if c.Index == "" {
		c.Index = DefaultIndex
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
	switch c.Compression {
	case "", "none", "gzip":
	default:
		errs = append(errs, fmt.Errorf("compression: want none or gzip, got %q", c.Compression))
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
