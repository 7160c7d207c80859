// Package alertmanager hands events to a Prometheus Alertmanager through
// its v2 API (POST /api/v2/alerts), so teams that already route alerts
// there keep one place for silences and receivers. A firing event becomes
// an alert with startsAt; a resolved one the same labels with endsAt.
//
// It must not retry or wait; the alerting pipeline does that.
package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
)

// Type is the integration type this package implements.
const Type = "alertmanager"

// Plugin is the Alertmanager integration type.
var Plugin = notify.Plugin{Settings: func() notify.Settings { return &Config{} }, New: New}

// Config is the Alertmanager integration's own keys.
type Config struct {
	URL     string        `yaml:"url"`
	Auth    outbound.Auth `yaml:"auth"`
	TLS     outbound.TLS  `yaml:"tls"`
	Timeout time.Duration `yaml:"timeout"`
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	return errors.Join(outbound.CheckURLKey("url", c.URL), c.client().Validate())
}

// client are the client keys an Alertmanager integration accepts.
func (c *Config) client() outbound.ClientConfig {
	return outbound.ClientConfig{Auth: c.Auth, TLS: c.TLS, Timeout: c.Timeout}
}

// Notifier posts alerts to one Alertmanager.
type Notifier struct {
	name   string
	cfg    Config
	client *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New is the Factory of Alertmanager integrations.
func New(spec notify.Spec) (notify.Notifier, error) {
	cfg, client, err := notify.HTTPSettings(spec, (*Config).client)
	if err != nil {
		return nil, err
	}
	return &Notifier{name: spec.Name, cfg: cfg, client: client}, nil
}

// Alert is one element of Alertmanager's postable alerts.
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Build turns an event into the alert Alertmanager stores. Labels identify
// the alert (the same for firing and resolved); everything else is an
// annotation. A firing alert's endsAt is left to Alertmanager's
// resolve_timeout, so an alert that stops being reported ends by itself.
func Build(msg notify.Message) Alert {
	ev := msg.Event
	labels := map[string]string{"alertname": ev.Name, "severity": string(ev.Severity), "source": "opshub"}
	for k, v := range map[string]string{"project": ev.Project, "service": ev.Service, "instance": ev.Instance} {
		if v != "" {
			labels[k] = v
		}
	}
	if r, ok := ev.Data["resource"].(string); ok && r != "" {
		labels["resource"] = r
	}
	ann := map[string]string{"summary": ev.Summary, "opshub_event_id": ev.ID}
	keys := make([]string, 0, len(ev.Data))
	for k := range ev.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := ev.Data[k].(type) {
		case string:
			ann[k] = v
		case []any, []string:
			b, _ := json.Marshal(v)
			ann[k] = string(b)
		default:
			ann[k] = fmt.Sprint(v)
		}
	}
	a := Alert{Labels: labels, Annotations: ann, GeneratorURL: msg.Link}
	if ev.Status == model.StatusResolved {
		a.EndsAt = ev.Time
	} else {
		a.StartsAt = ev.Time
	}
	return a
}

// Notify posts the alert.
func (n *Notifier) Notify(ctx context.Context, msg notify.Message) (notify.Result, error) {
	u := strings.TrimSuffix(n.cfg.URL, "/") + "/api/v2/alerts"
	req, body, err := notify.JSONRequest(ctx, u, []Alert{Build(msg)})
	if err != nil {
		return notify.Result{}, err
	}
	res := notify.Result{Request: "POST " + u + " " + outbound.Snippet(body)}
	resp, rb, err := notify.Exchange(n.client, n.name, req, &res)
	if err != nil {
		return res, err
	}
	return res, notify.ClassifyHTTP(resp, rb)
}
