package sinks

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	pconfig "github.com/prometheus/common/config"
)

// HTTPSettings are the keys every HTTP-based destination shares. Config has
// already resolved each secret given as <key>File into <key>.
type HTTPSettings struct {
	Auth struct {
		Basic *struct {
			Username string `yaml:"username"`
			Password string `yaml:"password"`
		} `yaml:"basic"`
		Bearer *struct {
			Token string `yaml:"token"`
		} `yaml:"bearer"`
	} `yaml:"auth"`
	TLS struct {
		CAFile             string `yaml:"caFile"`
		CertFile           string `yaml:"certFile"`
		KeyFile            string `yaml:"keyFile"`
		ServerName         string `yaml:"serverName"`
		InsecureSkipVerify bool   `yaml:"insecureSkipVerify"`
		MinVersion         string `yaml:"minVersion"`
	} `yaml:"tls"`
	Headers map[string]string `yaml:"headers"`
	Timeout Duration          `yaml:"timeout"`
}

// DefaultHTTPTimeout bounds one request when the sink sets no timeout.
const DefaultHTTPTimeout = 30 * time.Second

// NewHTTPClient builds the HTTP client of an HTTP-based destination from the
// spec's auth, tls, headers and timeout keys, through Prometheus' HTTP client
// config so that TLS and auth behave as Prometheus users know them. Keys the
// spec does not have are ignored, so a destination may pass its whole Spec.
func NewHTTPClient(spec Spec) (*http.Client, error) {
	var s HTTPSettings
	if err := DecodeRaw(spec, &s); err != nil {
		return nil, err
	}
	cfg := pconfig.DefaultHTTPClientConfig
	if b := s.Auth.Basic; b != nil {
		cfg.BasicAuth = &pconfig.BasicAuth{Username: b.Username, Password: pconfig.Secret(b.Password)}
	}
	if b := s.Auth.Bearer; b != nil {
		cfg.Authorization = &pconfig.Authorization{Type: "Bearer", Credentials: pconfig.Secret(b.Token)}
	}
	cfg.TLSConfig = pconfig.TLSConfig{
		CAFile:             s.TLS.CAFile,
		CertFile:           s.TLS.CertFile,
		KeyFile:            s.TLS.KeyFile,
		ServerName:         s.TLS.ServerName,
		InsecureSkipVerify: s.TLS.InsecureSkipVerify,
	}
	if s.TLS.MinVersion != "" {
		v, ok := pconfig.TLSVersions[s.TLS.MinVersion]
		if !ok {
			return nil, fmt.Errorf("sink %q: tls.minVersion %q is not one of TLS10, TLS11, TLS12, TLS13", spec.Name, s.TLS.MinVersion)
		}
		cfg.TLSConfig.MinVersion = v
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sink %q: http client settings: %w", spec.Name, err)
	}
	client, err := pconfig.NewClientFromConfig(cfg, "opshub-sink-"+spec.Name)
	if err != nil {
		return nil, fmt.Errorf("sink %q: http client: %w", spec.Name, err)
	}
	if len(s.Headers) > 0 {
		client.Transport = &headerTransport{headers: s.Headers, next: client.Transport}
	}
	client.Timeout = time.Duration(s.Timeout)
	if client.Timeout <= 0 {
		client.Timeout = DefaultHTTPTimeout
	}
	return client, nil
}

// headerTransport sets the sink's configured headers on every request,
// leaving headers the destination set itself alone.
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

// StatusError is an HTTP answer a destination did not accept.
type StatusError struct {
	Code int
	// Body is the start of the response body, for the reason in logs and
	// the dead-letter file.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

// maxErrorBody bounds how much of a refusal is kept as its reason.
const maxErrorBody = 512

// CheckResponse classifies a response for Deliver: nil for 2xx; a
// *RetryableError for 408, 429 and 5xx (with Retry-After honoured on 429 and
// 503); a *StatusError for any other code. It reads at most a little of the
// body of a refusal and leaves closing the body to the caller. now is the
// time Retry-After given as a date is measured from.
func CheckResponse(resp *http.Response, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	serr := &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return &RetryableError{Err: serr, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now)}
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return &RetryableError{Err: serr}
	}
	return serr
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date. It
// returns zero when the header is missing, malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// IsRetryable reports whether err is worth trying again.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}
