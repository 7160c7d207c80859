// Package alertmanager hands events to a Prometheus Alertmanager through
// its v2 API (POST /api/v2/alerts), so teams that already route alerts
// there keep one place for silences and receivers. A firing event becomes
// an alert with startsAt; a resolved one the same labels with endsAt.
//
// It must not retry or wait; the alerting pipeline does that.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
)

// Type is the integration type this package implements.
const Type = "alertmanager"

// Config is the Alertmanager integration's own keys.
type Config struct {
	URL  string `yaml:"url"`
	Auth struct {
		Basic struct {
			Username string `yaml:"username"`
			Password string `yaml:"password"`
		} `yaml:"basic"`
		Bearer struct {
			Token string `yaml:"token"`
		} `yaml:"bearer"`
	} `yaml:"auth"`
	TLS     map[string]any `yaml:"tls"`
	Timeout string         `yaml:"timeout"`
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
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		return nil, errors.New("url is required")
	}
	client, err := spec.HTTPClientTimeout(cfg.Timeout)
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
	body, err := json.Marshal([]Alert{Build(msg)})
	if err != nil {
		return notify.Result{}, fmt.Errorf("encode alert: %w", err)
	}
	u := strings.TrimSuffix(n.cfg.URL, "/") + "/api/v2/alerts"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return notify.Result{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	switch {
	case n.cfg.Auth.Basic.Username != "":
		req.SetBasicAuth(n.cfg.Auth.Basic.Username, n.cfg.Auth.Basic.Password)
	case n.cfg.Auth.Bearer.Token != "":
		req.Header.Set("Authorization", "Bearer "+n.cfg.Auth.Bearer.Token)
	}
	res := notify.Result{Request: "POST " + u + " " + notify.Snippet(body)}
	resp, err := n.client.Do(req)
	if err != nil {
		return res, notify.NetworkError(n.name, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res.StatusCode, res.Response = resp.StatusCode, notify.Snippet(rb)
	return res, notify.ClassifyHTTP(resp, rb)
}
