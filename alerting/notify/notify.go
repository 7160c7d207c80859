// Package notify is the contract between the alerting pipeline and the
// integrations that deliver its messages (webhook, Slack, Discord,
// Alertmanager, PagerDuty, Teams, email). Each integration lives in a child
// package, declares and decodes its own config, and registers a Factory;
// the pipeline only knows the integration's name and type.
//
// A notifier sends one message and reports what happened. It must not retry,
// sleep, queue or rate-limit by itself: the pipeline's delivery worker owns
// retries, back-off, rate limits and disabling, so that every integration
// behaves the same under failure.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
)

// Message is one notification about one event for one integration.
type Message struct {
	// ID identifies this delivery; it stays the same across retries and is
	// the idempotency key (webhook-id).
	ID string
	// AlertKey is the same for the firing and resolved messages of one
	// alert (event name × resource): PagerDuty's dedup_key, and the key under
	// which a chat message is found again to be updated on resolve.
	AlertKey string
	Event    model.Event
	// Ref is what the notifier returned in Result.Ref when it delivered the
	// firing message of this alert (a Slack message ts, a Discord message
	// id); empty when unknown.
	Ref string
	// Link is the API URL of the service the event is about, or "".
	Link string
}

// Result describes one attempt, for the delivery history.
type Result struct {
	// StatusCode is the HTTP status answered (the SMTP reply code for
	// email), or 0 when none came back.
	StatusCode int
	// Request and Response are short renderings of what was sent and
	// answered (secrets left out), for GET /api/v1/deliveries.
	Request  string
	Response string
	// Ref is a handle on the delivered message (see Message.Ref).
	Ref string
	// Pause asks the worker to wait this long before the next message to
	// this integration (Discord's X-RateLimit-Reset-After when Remaining is 0).
	Pause time.Duration
}

// Notifier delivers messages to one destination.
//
// Callers may rely on Notify returning:
//   - nil when the destination accepted the message;
//   - a *RetryableError for 408, 429, 5xx and network failures, with
//     RetryAfter set when the destination said how long to wait;
//   - an error wrapping ErrGone when the destination no longer exists (a
//     deleted Discord webhook answering 404): the integration is disabled;
//   - any other error when this message can never be delivered as it is.
//
// Notify never retries or sleeps by itself.
type Notifier interface {
	Notify(ctx context.Context, msg Message) (Result, error)
}

// Grouper is implemented by notifiers whose channel can carry several
// events in one message (Discord embeds, Slack blocks). The pipeline hands
// it bursts of the same event and status, at most MaxGroup at a time;
// NotifyGroup answers for all of them as Notify does for one.
type Grouper interface {
	MaxGroup() int
	NotifyGroup(ctx context.Context, msgs []Message) (Result, error)
}

// ErrGone marks a destination that no longer exists.
var ErrGone = errors.New("destination is gone")

// RetryableError is a failure worth trying again; outbound owns the type so
// that notifiers, sinks and remote write share it.
type RetryableError = outbound.RetryableError

// Spec is what a notifier's constructor receives: the integration's name and
// type, and its own settings, decoded and validated by config into the type
// the integration's package declares (STYLE: plugins own their config).
type Spec struct {
	Name     string
	Type     string
	Settings Settings
	Logger   *slog.Logger
}

// Settings are an integration's own keys: a pointer to a struct with yaml
// tags that config decodes strictly (config.PluginConfig). Validate reports
// every problem at once, each starting with its key ("url: ...").
type Settings = interface{ Validate() error }

// SettingsOf returns the spec's settings as the integration's own type.
func SettingsOf[T Settings](spec Spec) (T, error) {
	s, ok := spec.Settings.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("settings are %T, want %T", spec.Settings, zero)
	}
	return s, nil
}

// DefaultTimeout bounds one request of an integration that sets no timeout.
const DefaultTimeout = 10 * time.Second

// NewClient builds an integration's HTTP client from the client keys it
// accepts (outbound.ClientConfig), with DefaultTimeout unless it sets one.
func NewClient(spec Spec, c outbound.ClientConfig) (*http.Client, error) {
	return outbound.NewClient(fmt.Sprintf("integration %q", spec.Name), c, DefaultTimeout)
}

// HTTPSettings starts the constructor of an integration that speaks HTTP:
// outbound.PluginClient with the integration's name and DefaultTimeout.
func HTTPSettings[C any](spec Spec, keys func(*C) outbound.ClientConfig) (C, *http.Client, error) {
	return outbound.PluginClient(fmt.Sprintf("integration %q", spec.Name), spec.Settings, keys, DefaultTimeout)
}

// Factory builds a notifier from its spec.
type Factory func(spec Spec) (Notifier, error)

// Plugin is one integration type: its settings and its constructor. The
// binary's list of types (internal/plugins) maps each type name to one.
type Plugin struct {
	// Settings returns new settings holding the type's defaults.
	Settings func() Settings
	New      Factory
}

// Registry maps integration types to their plugins.
type Registry map[string]Plugin

// New builds the notifier of spec's type.
func (r Registry) New(spec Spec) (Notifier, error) {
	p, ok := r[spec.Type]
	if !ok {
		known := make([]string, 0, len(r))
		for k := range r {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("integration %q: unknown type %q (known: %s)", spec.Name, spec.Type, strings.Join(known, ", "))
	}
	n, err := p.New(spec)
	if err != nil {
		return nil, fmt.Errorf("integration %q: %w", spec.Name, err)
	}
	return n, nil
}

// ClassifyHTTP turns an HTTP answer into the error Notify should return:
// nil for 2xx, a *RetryableError for 408, 429 and 5xx (with the
// Retry-After header's wait), and an *outbound.StatusError otherwise.
func ClassifyHTTP(resp *http.Response, body []byte) error {
	return outbound.Classify(resp.StatusCode, resp.Header, body, time.Now())
}

// JSONRequest builds a POST of v as JSON to url.
func JSONRequest(ctx context.Context, url string, v any) (*http.Request, []byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, nil, fmt.Errorf("encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req, body, nil
}

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 64 << 10

// Exchange sends req for the integration and records the answer in res:
// its status code and the start of its body. It returns the answer (its
// body closed, the part read in answer) for the caller to classify
// (ClassifyHTTP, or the destination's own rules); err is a failure to
// reach the destination, retryable.
func Exchange(client *http.Client, integration string, req *http.Request, res *Result) (resp *http.Response, answer []byte, err error) {
	resp, err = client.Do(req)
	if err != nil {
		return nil, nil, NetworkError(integration, err)
	}
	defer resp.Body.Close()
	answer, _ = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	res.StatusCode, res.Response = resp.StatusCode, outbound.Snippet(answer)
	return resp, answer, nil
}

// NetworkError wraps a failure to reach the destination as retryable.
func NetworkError(name string, err error) error {
	return outbound.NetworkError(fmt.Errorf("integration %q: %w", name, err))
}

// Split returns the events and links of a burst's messages, in order, for
// the notifiers that build one message of several events.
func Split(msgs []Message) (events []model.Event, links []string) {
	events = make([]model.Event, len(msgs))
	links = make([]string, len(msgs))
	for i, m := range msgs {
		events[i], links[i] = m.Event, m.Link
	}
	return events, links
}

// DataKeys are the keys of the event's Data that a message shows as
// fields, sorted: all but the last lines and the link, which it shows in
// their own places.
func DataKeys(ev model.Event) []string {
	keys := make([]string, 0, len(ev.Data))
	for k := range ev.Data {
		if k != "lastLines" && k != "link" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// LastLines returns the last log lines a crash event carries
// (Data["lastLines"]), as the detectors set them or as they read back from
// the outbox's JSON.
func LastLines(ev model.Event) []string {
	switch v := ev.Data["lastLines"].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, l := range v {
			out = append(out, fmt.Sprint(l))
		}
		return out
	}
	return nil
}
