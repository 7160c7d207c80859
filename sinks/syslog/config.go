package syslog

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/opshub/opshub/sinks"
)

// DefaultTimeout bounds dialling and one batch's write.
const DefaultTimeout = 30 * time.Second

// Config is the syslog destination's own keys (docs/config.md).
type Config struct {
	// Address is host:port of the receiver.
	Address string `yaml:"address"`
	// Network is tcp, tls or udp; default tcp, or tls when a tls block is set.
	Network string `yaml:"network"`
	// Format is rfc5424 (default) or rfc3164.
	Format string `yaml:"format"`
	// Facility is a syslog facility name; default user.
	Facility string `yaml:"facility"`
	// AppName overrides APP-NAME, which is otherwise the record's service.
	AppName string `yaml:"appName"`
	// TLS is as in Prometheus' HTTP client config.
	TLS struct {
		CAFile             string `yaml:"caFile"`
		CertFile           string `yaml:"certFile"`
		KeyFile            string `yaml:"keyFile"`
		ServerName         string `yaml:"serverName"`
		InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
		MinVersion         string `yaml:"minVersion"`
	} `yaml:"tls"`
	Timeout sinks.Duration `yaml:"timeout"`

	hasTLS bool
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18,
	"local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

func decodeConfig(spec sinks.Spec) (Config, error) {
	var c Config
	if err := sinks.DecodeRaw(spec, &c); err != nil {
		return Config{}, err
	}
	c.hasTLS = c.TLS != (Config{}).TLS
	if c.Network == "" {
		c.Network = "tcp"
		if c.hasTLS {
			c.Network = "tls"
		}
	}
	if c.Format == "" {
		c.Format = "rfc5424"
	}
	if c.Facility == "" {
		c.Facility = "user"
	}
	if c.Timeout <= 0 {
		c.Timeout = sinks.Duration(DefaultTimeout)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	return c, nil
}

// Validate reports every bad key at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		errs = append(errs, fmt.Errorf("address: want host:port, got %q", c.Address))
	}
	switch c.Network {
	case "tcp", "tls", "udp":
	default:
		errs = append(errs, fmt.Errorf("network: want tcp, tls or udp, got %q", c.Network))
	}
	if c.hasTLS && c.Network != "tls" {
		errs = append(errs, fmt.Errorf("tls: set, but network is %s", c.Network))
	}
	switch c.Format {
	case "rfc5424", "rfc3164":
	default:
		errs = append(errs, fmt.Errorf("format: want rfc5424 or rfc3164, got %q", c.Format))
	}
	if _, ok := facilities[c.Facility]; !ok {
		errs = append(errs, fmt.Errorf("facility: unknown %q", c.Facility))
	}
	return errors.Join(errs...)
}
