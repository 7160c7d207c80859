// Package webhook delivers events as the generic webhook of the user-facing
// contract: one event per POST, the event's JSON as the body, and Standard
// Webhooks headers (webhook-id stable across retries, webhook-timestamp, and
// webhook-signature when a secret is set).
//
// It must not retry or queue; the alerting pipeline does that.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/outbound"
)

// Type is the integration type this package implements.
const Type = "webhook"

// Plugin is the webhook integration type.
var Plugin = notify.Plugin{Settings: func() notify.Settings { return &Config{} }, New: New}

// Config is the webhook integration's own keys.
type Config struct {
	URL string `yaml:"url"`
	// Secret signs every request. A "whsec_" prefix marks a base64 key as
	// Standard Webhooks libraries issue them; any other value is used as is.
	Secret  string            `yaml:"secret" config:"secret"`
	Headers map[string]string `yaml:"headers" config:"secret"`
	Timeout time.Duration     `yaml:"timeout"`
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	errs := []error{outbound.CheckURLKey("url", c.URL)}
	if _, err := SecretKey(c.Secret); err != nil {
		errs = append(errs, fmt.Errorf("secret: %w", err))
	}
	return errors.Join(append(errs, c.client().Validate())...)
}

// client are the client keys a webhook integration accepts.
func (c *Config) client() outbound.ClientConfig {
	return outbound.ClientConfig{Headers: c.Headers, Timeout: c.Timeout}
}

// Notifier posts events to one URL.
type Notifier struct {
	name   string
	cfg    Config
	key    []byte
	client *http.Client
	now    func() time.Time
}

var _ notify.Notifier = (*Notifier)(nil)

// New is the Factory of webhook integrations.
func New(spec notify.Spec) (notify.Notifier, error) {
	cfg, client, err := notify.HTTPSettings(spec, (*Config).client)
	if err != nil {
		return nil, err
	}
	key, err := SecretKey(cfg.Secret)
	if err != nil {
		return nil, err
	}
	return &Notifier{name: spec.Name, cfg: cfg, key: key, client: client, now: time.Now}, nil
}

// SecretKey returns the HMAC key of a configured secret.
func SecretKey(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("secret: whsec_ value is not base64: %w", err)
		}
		return key, nil
	}
	return []byte(secret), nil
}

// Sign returns the webhook-signature value for one request.
func Sign(key []byte, id string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a request the way a receiver does; header holds the
// webhook-signature value, which may list several space-separated signatures.
func Verify(key []byte, id, ts string, body []byte, header string) bool {
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	want := Sign(key, id, n, body)
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// Notify posts the event.
func (n *Notifier) Notify(ctx context.Context, msg notify.Message) (notify.Result, error) {
	req, body, err := notify.JSONRequest(ctx, n.cfg.URL, msg.Event)
	if err != nil {
		return notify.Result{}, err
	}
	ts := n.now().Unix()
	for k, v := range n.cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", msg.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	if len(n.key) > 0 {
		req.Header.Set("webhook-signature", Sign(n.key, msg.ID, ts, body))
	}
	req.Header.Set("X-Opshub-Event", msg.Event.Name)
	res := notify.Result{Request: "POST " + redactURL(n.cfg.URL) + " " + outbound.Snippet(body)}
	resp, rb, err := notify.Exchange(n.client, n.name, req, &res)
	if err != nil {
		return res, err
	}
	return res, notify.ClassifyHTTP(resp, rb)
}

// redactURL drops the query and user info, where tokens tend to live.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if at := strings.Index(raw, "@"); at >= 0 {
		if s := strings.Index(raw, "://"); s >= 0 && s < at {
			raw = raw[:s+3] + raw[at+1:]
		}
	}
	return raw
}
