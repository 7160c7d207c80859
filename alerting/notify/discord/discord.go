// Package discord delivers events to a Discord channel through an incoming
// webhook ("execute webhook" with embeds), kept within Discord's documented
// limits, with wait=true so the message id comes back.
//
// It honours Discord's answers but never waits by itself: a 429's
// retry_after becomes a RetryableError, an exhausted rate-limit bucket
// (X-RateLimit-Remaining: 0) becomes a Pause for the pipeline, and a 404
// (the webhook was deleted) is notify.ErrGone.
//
// It speaks the one endpoint it needs with net/http rather than through
// discordgo: discordgo takes its API base from package variables (one
// process could not serve integrations pointed at different hosts, nor a
// test its own stand-in, without global state), and its request path waits
// on its rate-limit buckets by itself, which the notify contract leaves to
// the pipeline.
package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
)

// Type is the integration type this package implements.
const Type = "discord"

// Discord's documented limits for webhook messages.
const (
	MaxContent          = 2000
	MaxEmbeds           = 10
	MaxTitle            = 256
	MaxDescription      = 4096
	MaxFields           = 25
	MaxFieldName        = 256
	MaxFieldValue       = 1024
	MaxEmbedTotal       = 6000
	maxFieldsFromEvents = 12
	// Event data fields are kept short so that the description (the
	// summary and the last log lines) keeps most of the 6000 characters.
	dataFieldName  = 64
	dataFieldValue = 200
)

// Config is the Discord integration's own keys.
type Config struct {
	WebhookURL string `yaml:"webhookURL"`
	Username   string `yaml:"username"`
	AvatarURL  string `yaml:"avatarURL"`
}

// Notifier posts to one Discord webhook.
type Notifier struct {
	name   string
	cfg    Config
	client *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New is the Factory of Discord integrations.
func New(spec notify.Spec) (notify.Notifier, error) {
	var cfg Config
	if err := spec.Decode(&cfg); err != nil {
		return nil, err
	}
	if _, err := url.Parse(cfg.WebhookURL); err != nil || cfg.WebhookURL == "" {
		return nil, errors.New("webhookURL is required and must be a URL")
	}
	return &Notifier{name: spec.Name, cfg: cfg, client: spec.HTTPClient()}, nil
}

// WebhookMessage is the body of Discord's execute-webhook call (the fields
// opshub uses).
type WebhookMessage struct {
	Content   string  `json:"content,omitempty"`
	Username  string  `json:"username,omitempty"`
	AvatarURL string  `json:"avatar_url,omitempty"`
	Embeds    []Embed `json:"embeds,omitempty"`
}

// Embed is one rich embed.
type Embed struct {
	Title       string       `json:"title,omitempty"`
	Description string       `json:"description,omitempty"`
	URL         string       `json:"url,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Color       int          `json:"color,omitempty"`
	Fields      []EmbedField `json:"fields,omitempty"`
}

// EmbedField is one name/value pair of an embed.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// Colours by severity and status.
const (
	colorCritical = 0xE01E5A
	colorWarning  = 0xECB22E
	colorInfo     = 0x439FE0
	colorResolved = 0x2EB67D
)

// Build renders an event as a webhook message within Discord's limits.
func Build(ev model.Event, link string) WebhookMessage {
	e := Embed{
		Title:     truncate(fmt.Sprintf("[%s] %s %s", strings.ToUpper(ev.Status), ev.Name, strings.Trim(ev.Project+"/"+ev.Service, "/")), MaxTitle),
		Timestamp: ev.Time.UTC().Format(time.RFC3339),
		URL:       link,
		Color:     color(ev),
	}
	desc := ev.Summary
	if lines, ok := ev.Data["lastLines"].([]any); ok && len(lines) > 0 {
		var b strings.Builder
		for _, l := range lines {
			fmt.Fprintln(&b, l)
		}
		desc += "\n**Last lines**\n```\n" + strings.ReplaceAll(b.String(), "```", "'''") + "```"
	} else if lines, ok := ev.Data["lastLines"].([]string); ok && len(lines) > 0 {
		desc += "\n**Last lines**\n```\n" + strings.ReplaceAll(strings.Join(lines, "\n"), "```", "'''") + "\n```"
	}
	e.Description = truncate(desc, MaxDescription)
	if ev.Instance != "" {
		e.Fields = append(e.Fields, EmbedField{Name: "instance", Value: truncate(ev.Instance, MaxFieldValue), Inline: true})
	}
	e.Fields = append(e.Fields, EmbedField{Name: "severity", Value: string(ev.Severity), Inline: true})
	keys := make([]string, 0, len(ev.Data))
	for k := range ev.Data {
		if k != "lastLines" && k != "link" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if len(e.Fields) >= min(MaxFields, maxFieldsFromEvents) {
			break
		}
		v := fmt.Sprint(ev.Data[k])
		if v == "" {
			v = "-"
		}
		e.Fields = append(e.Fields, EmbedField{Name: truncate(k, dataFieldName), Value: truncate(v, dataFieldValue), Inline: true})
	}
	fitTotal(&e, MaxEmbedTotal)
	return WebhookMessage{Embeds: []Embed{e}}
}

// BuildGroup renders up to MaxEmbeds events as one message, one embed
// each, sharing Discord's 6000-character budget for all embeds.
func BuildGroup(evs []model.Event, links []string) WebhookMessage {
	if len(evs) > MaxEmbeds {
		evs = evs[:MaxEmbeds]
	}
	var wm WebhookMessage
	for i, ev := range evs {
		e := Build(ev, links[i]).Embeds[0]
		fitTotal(&e, MaxEmbedTotal/len(evs))
		wm.Embeds = append(wm.Embeds, e)
	}
	wm.Content = truncate(fmt.Sprintf("%d × %s %s", len(evs), evs[0].Name, evs[0].Status), MaxContent)
	return wm
}

// fitTotal drops fields and shortens the description until the embed's
// characters add up to at most budget.
func fitTotal(e *Embed, budget int) {
	count := func() int {
		total := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
		for _, f := range e.Fields {
			total += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
		}
		return total
	}
	for count()-utf8.RuneCountInString(e.Description) > budget && len(e.Fields) > 0 {
		e.Fields = e.Fields[:len(e.Fields)-1]
	}
	if t := utf8.RuneCountInString(e.Title); t > budget {
		e.Title = truncate(e.Title, budget)
	}
	if over := count() - budget; over > 0 {
		n := max(0, utf8.RuneCountInString(e.Description)-over)
		e.Description = truncate(e.Description, n)
	}
}

func color(ev model.Event) int {
	if ev.Status == model.StatusResolved {
		return colorResolved
	}
	switch ev.Severity {
	case model.SeverityCritical:
		return colorCritical
	case model.SeverityWarning:
		return colorWarning
	}
	return colorInfo
}

// truncate cuts s to at most n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-1]) + "…"
}

var _ notify.Grouper = (*Notifier)(nil)

// MaxGroup is how many events one message carries: one embed each.
func (n *Notifier) MaxGroup() int { return MaxEmbeds }

// NotifyGroup sends several events of one burst as one message.
func (n *Notifier) NotifyGroup(ctx context.Context, msgs []notify.Message) (notify.Result, error) {
	evs := make([]model.Event, len(msgs))
	links := make([]string, len(msgs))
	for i, m := range msgs {
		evs[i], links[i] = m.Event, m.Link
	}
	return n.send(ctx, BuildGroup(evs, links))
}

// Notify executes the webhook.
func (n *Notifier) Notify(ctx context.Context, msg notify.Message) (notify.Result, error) {
	return n.send(ctx, Build(msg.Event, msg.Link))
}

func (n *Notifier) send(ctx context.Context, wm WebhookMessage) (notify.Result, error) {
	wm.Username, wm.AvatarURL = n.cfg.Username, n.cfg.AvatarURL
	body, err := json.Marshal(wm)
	if err != nil {
		return notify.Result{}, fmt.Errorf("encode message: %w", err)
	}
	u, err := url.Parse(n.cfg.WebhookURL)
	if err != nil {
		return notify.Result{}, fmt.Errorf("webhookURL: %w", err)
	}
	q := u.Query()
	q.Set("wait", "true")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return notify.Result{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res := notify.Result{Request: "POST <discord webhook> " + notify.Snippet(body)}
	resp, err := n.client.Do(req)
	if err != nil {
		return res, notify.NetworkError(n.name, err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	res.StatusCode, res.Response = resp.StatusCode, notify.Snippet(rb)
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		res.Pause = seconds(resp.Header.Get("X-RateLimit-Reset-After"))
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return res, fmt.Errorf("discord webhook answered 404 (deleted?): %s: %w", notify.Snippet(rb), notify.ErrGone)
	case resp.StatusCode == http.StatusTooManyRequests:
		var rl struct {
			RetryAfter float64 `json:"retry_after"`
			Global     bool    `json:"global"`
		}
		_ = json.Unmarshal(rb, &rl)
		wait := time.Duration(rl.RetryAfter * float64(time.Second))
		if h := notify.RetryAfter(resp.Header.Get("Retry-After"), time.Now()); h > wait {
			wait = h
		}
		return res, &notify.RetryableError{Err: fmt.Errorf("discord rate limit (global %t)", rl.Global), RetryAfter: wait}
	}
	if err := notify.ClassifyHTTP(resp, rb); err != nil {
		return res, err
	}
	var m struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(rb, &m) == nil {
		res.Ref = m.ID
	}
	return res, nil
}

func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}
