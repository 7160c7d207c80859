package syslog

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
)

// DefaultTimeout bounds dialling and one batch's write.
const DefaultTimeout = 30 * time.Second

// Plugin is the syslog destination type.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return DefaultConfig() }, New: New}

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
	TLS     outbound.TLS  `yaml:"tls"`
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig is the settings of a syslog sink that gives only its address.
func DefaultConfig() *Config {
	return &Config{Format: "rfc5424", Facility: "user", Timeout: DefaultTimeout}
}

// network is the effective network: the configured one, or tcp, or tls
// when a tls block is set.
func (c *Config) network() string {
	switch {
	case c.Network != "":
		return c.Network
	case !c.TLS.IsZero():
		return "tls"
	}
	return "tcp"
}

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "local0": 16, "local1": 17, "local2": 18,
	"local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	var errs []error
	if host, port, err := net.SplitHostPort(c.Address); err != nil || host == "" || port == "" {
		errs = append(errs, fmt.Errorf("address: must be host:port, got %q", c.Address))
	}
	switch c.network() {
	case "tcp", "tls", "udp":
	default:
		errs = append(errs, fmt.Errorf("network: must be one of tcp, tls, udp, got %q", c.Network))
	}
	if !c.TLS.IsZero() && c.network() != "tls" {
		errs = append(errs, fmt.Errorf("tls: is set, but network is %s (use network: tls, or leave network out)", c.network()))
	}
	errs = append(errs, c.TLS.Validate())
	switch c.Format {
	case "rfc5424", "rfc3164":
	default:
		errs = append(errs, fmt.Errorf("format: must be one of rfc5424, rfc3164, got %q", c.Format))
	}
	if _, ok := facilities[c.Facility]; !ok {
		errs = append(errs, fmt.Errorf("facility: unknown %q", c.Facility))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be more than 0s"))
	}
	return errors.Join(errs...)
}
