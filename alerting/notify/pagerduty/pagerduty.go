// Package pagerduty triggers and resolves PagerDuty incidents through the
// Events API v2. The alert key (event name × resource) is the dedup_key, so
// repeated triggers of one alert stay one incident and the resolve closes it.
//
// It must not retry or wait; the alerting pipeline does that (PagerDuty
// allows about 120 events per minute per routing key).
package pagerduty

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
)

// Type is the integration type this package implements.
const Type = "pagerduty"

// DefaultURL is the Events API v2 endpoint.
const DefaultURL = "https://events.pagerduty.com/v2/enqueue"

// Plugin is the PagerDuty integration type.
var Plugin = notify.Plugin{Settings: func() notify.Settings { return &Config{URL: DefaultURL} }, New: New}

// Config is the PagerDuty integration's own keys.
type Config struct {
	RoutingKey string `yaml:"routingKey" config:"secret"`
	URL        string `yaml:"url"`
}

// Notifier sends events to one PagerDuty service.
type Notifier struct {
	name   string
	cfg    Config
	client *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New is the Factory of PagerDuty integrations.
// Validate reports every bad key at once.
func (c *Config) Validate() error {
	var errs []error
	if c.RoutingKey == "" {
		errs = append(errs, errors.New("routingKey: is required (or routingKeyFile)"))
	}
	if c.URL != "" {
		errs = append(errs, outbound.CheckURLKey("url", c.URL))
	}
	return errors.Join(errs...)
}

func New(spec notify.Spec) (notify.Notifier, error) {
	cfg, client, err := notify.HTTPSettings[Config](spec, nil)
	if err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		cfg.URL = DefaultURL
	}
	return &Notifier{name: spec.Name, cfg: cfg, client: client}, nil
}

// Event is the Events API v2 request body.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"` // trigger | resolve
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload,omitempty"`
	Links       []Link   `json:"links,omitempty"`
}

// Payload describes a triggered incident.
type Payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"` // critical | error | warning | info
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Link is a link shown on the incident.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// maxSummary is PagerDuty's limit on payload.summary.
const maxSummary = 1024

// DedupKey is the dedup_key of an alert key (PagerDuty allows 255 chars).
func DedupKey(alertKey string) string {
	if len(alertKey) <= 255 {
		return alertKey
	}
	sum := sha256.Sum256([]byte(alertKey))
	return alertKey[:190] + "#" + hex.EncodeToString(sum[:])
}

// Build turns a message into an Events API v2 body.
func Build(routingKey string, msg notify.Message) Event {
	ev := msg.Event
	out := Event{RoutingKey: routingKey, EventAction: "trigger", DedupKey: DedupKey(msg.AlertKey)}
	if ev.Status == model.StatusResolved {
		out.EventAction = "resolve"
		return out
	}
	summary := ev.Summary
	if len(summary) > maxSummary {
		summary = summary[:maxSummary-3] + "..."
	}
	if summary == "" {
		summary = ev.Name
	}
	source := ev.Instance
	if source == "" {
		source = ev.Project + "/" + ev.Service
	}
	sev := string(ev.Severity)
	if sev == "" {
		sev = "warning"
	}
	out.Payload = &Payload{
		Summary: summary, Source: source, Severity: sev, Timestamp: ev.Time.UTC().Format(time.RFC3339Nano),
		Component: ev.Service, Group: ev.Project, Class: ev.Name, CustomDetails: ev.Data,
	}
	if msg.Link != "" {
		out.Links = []Link{{Href: msg.Link, Text: "service in opshub"}}
	}
	return out
}

// Notify enqueues the event.
func (n *Notifier) Notify(ctx context.Context, msg notify.Message) (notify.Result, error) {
	req, _, err := notify.JSONRequest(ctx, n.cfg.URL, Build(n.cfg.RoutingKey, msg))
	if err != nil {
		return notify.Result{}, err
	}
	res := notify.Result{Request: "POST " + n.cfg.URL + " " + msg.Event.Name + " " + msg.Event.Status}
	resp, rb, err := notify.Exchange(n.client, n.name, req, &res)
	if err != nil {
		return res, err
	}
	return res, notify.ClassifyHTTP(resp, rb)
}
