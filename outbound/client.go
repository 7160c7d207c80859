package outbound

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	pconfig "github.com/prometheus/common/config"
)

// Auth is the `auth` key: HTTP basic auth or a bearer token.
type Auth struct {
	Basic  *BasicAuth  `yaml:"basic"`
	Bearer *BearerAuth `yaml:"bearer"`
}

// BasicAuth is `auth.basic`.
type BasicAuth struct {
	Username string `yaml:"username"`
	Password string `yaml:"password" config:"secret"`
}

// BearerAuth is `auth.bearer`.
type BearerAuth struct {
	Token string `yaml:"token" config:"secret"`
}

// Validate reports every problem of the auth key at once.
func (a Auth) Validate() error {
	var errs []error
	switch {
	case a.Basic != nil && a.Bearer != nil:
		errs = append(errs, errors.New("auth: give only one of basic, bearer"))
	case a.Basic != nil:
		if a.Basic.Username == "" {
			errs = append(errs, errors.New("auth.basic.username: is required"))
		}
		if a.Basic.Password == "" {
			errs = append(errs, errors.New("auth.basic.password: is required (or passwordFile)"))
		}
	case a.Bearer != nil:
		if a.Bearer.Token == "" {
			errs = append(errs, errors.New("auth.bearer.token: is required (or tokenFile)"))
		}
	}
	return errors.Join(errs...)
}

// TLS is the `tls` key, as in Prometheus' HTTP client config.
type TLS struct {
	CAFile             string `yaml:"caFile" config:"path"`
	CertFile           string `yaml:"certFile" config:"path"`
	KeyFile            string `yaml:"keyFile" config:"path"`
	ServerName         string `yaml:"serverName"`
	InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
	// MinVersion is TLS10, TLS11, TLS12 or TLS13.
	MinVersion string `yaml:"minVersion"`
}

// IsZero reports whether no TLS key was given.
func (t TLS) IsZero() bool { return t == TLS{} }

// Validate reports every problem of the tls key at once.
func (t TLS) Validate() error {
	var errs []error
	if t.CertFile != "" && t.KeyFile == "" {
		errs = append(errs, errors.New("tls.keyFile: is required when certFile is given"))
	}
	if t.KeyFile != "" && t.CertFile == "" {
		errs = append(errs, errors.New("tls.certFile: is required when keyFile is given"))
	}
	if t.MinVersion != "" {
		if _, ok := pconfig.TLSVersions[t.MinVersion]; !ok {
			errs = append(errs, fmt.Errorf("tls.minVersion: must be one of TLS10, TLS11, TLS12, TLS13, got %q", t.MinVersion))
		}
	}
	return errors.Join(errs...)
}

// prometheus turns the key into Prometheus' TLS config.
func (t TLS) prometheus() pconfig.TLSConfig {
	return pconfig.TLSConfig{
		CAFile:             t.CAFile,
		CertFile:           t.CertFile,
		KeyFile:            t.KeyFile,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
		MinVersion:         pconfig.TLSVersions[t.MinVersion],
	}
}

// NewTLSConfig builds a TLS client configuration from the tls key, for a
// destination that is not HTTP (syslog over TLS).
func NewTLSConfig(t TLS) (*tls.Config, error) {
	c, err := pconfig.NewTLSConfig(ptr(t.prometheus()))
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return c, nil
}

func ptr[T any](v T) *T { return &v }

// ClientConfig are the keys of an HTTP destination's client; a plugin
// embeds it inline in its settings (`yaml:",inline"`) or sets the fields it
// accepts.
type ClientConfig struct {
	Auth Auth `yaml:"auth"`
	TLS  TLS  `yaml:"tls"`
	// Headers are set on every request the caller did not set itself; they
	// may carry credentials.
	Headers map[string]string `yaml:"headers" config:"secret"`
	// Timeout bounds one request; zero means the caller's default.
	Timeout time.Duration `yaml:"timeout"`
	// ProxyURL sends requests through an HTTP proxy.
	ProxyURL string `yaml:"proxyURL"`
}

// Validate reports every problem of the client keys at once.
func (c ClientConfig) Validate() error {
	errs := []error{c.Auth.Validate(), c.TLS.Validate()}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if c.ProxyURL != "" {
		if err := CheckURL(c.ProxyURL); err != nil {
			errs = append(errs, fmt.Errorf("proxyURL: %w", err))
		}
	}
	return errors.Join(errs...)
}

// CheckURLKey checks a required http or https URL key of a plugin's
// settings, for its Validate.
func CheckURLKey(key, value string) error {
	if value == "" {
		return fmt.Errorf("%s: is required", key)
	}
	if err := CheckURL(value); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// CheckSecretURLKey is CheckURLKey for a URL that holds a credential (a
// chat webhook): the value never appears in the message.
func CheckSecretURLKey(key, value string) error {
	if value == "" {
		return fmt.Errorf("%s: is required (or %sFile)", key, key)
	}
	if CheckURL(value) != nil {
		return fmt.Errorf("%s: must be an http or https URL", key)
	}
	return nil
}

// CheckURL checks an http or https URL with a host.
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http or https URL, got %q", s)
	}
	return nil
}

// PluginClient starts the constructor of a plugin that speaks HTTP (a sink
// or a notification integration) named name. It returns a copy of the
// plugin's settings, which arrive as settings holding a *C, for the
// constructor to fill defaults into, and the HTTP client built from the
// client keys that keys picks out of them (nil: none) with defaultTimeout
// unless they set one.
func PluginClient[C any](name string, settings any, keys func(*C) ClientConfig, defaultTimeout time.Duration) (C, *http.Client, error) {
	var cfg C
	s, ok := settings.(*C)
	if !ok || s == nil {
		return cfg, nil, fmt.Errorf("%s: settings are %T, want %T", name, settings, s)
	}
	cfg = *s
	var c ClientConfig
	if keys != nil {
		c = keys(&cfg)
	}
	client, err := NewClient(name, c, defaultTimeout)
	return cfg, client, err
}

// NewClient builds the client of the destination name from its keys,
// through Prometheus' HTTP client config so that auth and TLS behave as
// Prometheus users know them. defaultTimeout applies when the keys set none.
func NewClient(name string, c ClientConfig, defaultTimeout time.Duration) (*http.Client, error) {
	cfg := pconfig.DefaultHTTPClientConfig
	if b := c.Auth.Basic; b != nil {
		cfg.BasicAuth = &pconfig.BasicAuth{Username: b.Username, Password: pconfig.Secret(b.Password)}
	}
	if b := c.Auth.Bearer; b != nil {
		cfg.Authorization = &pconfig.Authorization{Type: "Bearer", Credentials: pconfig.Secret(b.Token)}
	}
	cfg.TLSConfig = c.TLS.prometheus()
	// Without a proxy of its own a destination honours HTTPS_PROXY and
	// friends, as Go's default client does.
	cfg.ProxyFromEnvironment = c.ProxyURL == ""
	if c.ProxyURL != "" {
		u, err := url.Parse(c.ProxyURL)
		if err != nil {
			return nil, fmt.Errorf("%s: proxyURL: %w", name, err)
		}
		cfg.ProxyURL = pconfig.URL{URL: u}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: http client settings: %w", name, err)
	}
	client, err := pconfig.NewClientFromConfig(cfg, "opshub-"+name)
	if err != nil {
		return nil, fmt.Errorf("%s: http client: %w", name, err)
	}
	if len(c.Headers) > 0 {
		client.Transport = &headerTransport{headers: c.Headers, next: client.Transport}
	}
	client.Timeout = c.Timeout
	if client.Timeout <= 0 {
		client.Timeout = defaultTimeout
	}
	return client, nil
}

// headerTransport sets the configured headers on every request, leaving
// headers the caller set itself alone.
type headerTransport struct {
	headers map[string]string
	next    http.RoundTripper
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.headers {
		if r.Header.Get(k) == "" {
			r.Header.Set(k, v)
		}
	}
	return t.next.RoundTrip(r)
}
