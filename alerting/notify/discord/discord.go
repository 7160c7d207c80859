// Package discord delivers events to a Discord channel through an incoming
// webhook ("execute webhook" with embeds), kept within Discord's documented
// limits, with wait=true so the message id comes back.
//
// It speaks to Discord through discordgo: its wire types (WebhookParams,
// MessageEmbed, Message) and a REST session of its own per integration,
// posting to the configured webhookURL (whatever its host) rather than
// through discordgo's package-level endpoints, with the integration's HTTP
// client and timeout.
//
// It honours Discord's answers but never waits or retries by itself, and
// neither does discordgo on its behalf: the session does not retry a 429
// or a 502, and its transport hides the rate-limit headers from discordgo's
// Ratelimiter, which would otherwise sleep until an exhausted bucket
// resets. Instead a 429's retry_after becomes a RetryableError, an
// exhausted bucket (X-RateLimit-Remaining: 0) becomes a Pause for the
// pipeline, and a 404 (the webhook was deleted) is notify.ErrGone.
package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/outbound"
)

// Type is the integration type this package implements.
const Type = "discord"

// Plugin is the Discord integration type.
var Plugin = notify.Plugin{Settings: func() notify.Settings { return &Config{} }, New: New}

// Config is the Discord integration's own keys.
type Config struct {
	WebhookURL string `yaml:"webhookURL" config:"secret"`
	Username   string `yaml:"username"`
	AvatarURL  string `yaml:"avatarURL"`
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	errs := []error{outbound.CheckSecretURLKey("webhookURL", c.WebhookURL)}
	if c.AvatarURL != "" {
		errs = append(errs, outbound.CheckURLKey("avatarURL", c.AvatarURL))
	}
	return errors.Join(errs...)
}

// Notifier posts to one Discord webhook.
type Notifier struct {
	name    string
	cfg     Config
	url     string // webhookURL with wait=true
	bucket  string // the session's rate-limit bucket for this webhook
	session *discordgo.Session
}

var _ notify.Notifier = (*Notifier)(nil)

// New is the Factory of Discord integrations.
func New(spec notify.Spec) (notify.Notifier, error) {
	cfg, httpClient, err := notify.HTTPSettings[Config](spec, nil)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.WebhookURL)
	if err != nil || cfg.WebhookURL == "" {
		return nil, errors.New("webhookURL is required and must be a URL")
	}
	q := u.Query()
	q.Set("wait", "true")
	u.RawQuery = q.Encode()

	// A webhook needs no bot token: the token is in the URL.
	s, err := discordgo.New("")
	if err != nil {
		return nil, fmt.Errorf("discord session: %w", err)
	}
	client := *httpClient // keeps the integration's timeout
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	client.Transport = recorder{base: base}
	s.Client = &client
	s.ShouldRetryOnRateLimit = false
	s.MaxRestRetries = 0
	// discordgo logs through the standard logger; failures are reported
	// through the returned errors instead.
	s.LogLevel = discordgo.LogError - 1
	return &Notifier{
		name:    spec.Name,
		cfg:     cfg,
		url:     u.String(),
		bucket:  fmt.Sprintf("discord webhook of integration %q", spec.Name),
		session: s,
	}, nil
}

var _ notify.Grouper = (*Notifier)(nil)

// MaxGroup is how many events one message carries: one embed each.
func (n *Notifier) MaxGroup() int { return MaxEmbeds }

// NotifyGroup sends several events of one burst as one message.
func (n *Notifier) NotifyGroup(ctx context.Context, msgs []notify.Message) (notify.Result, error) {
	evs, links := notify.Split(msgs)
	return n.send(ctx, BuildGroup(evs, links))
}

// Notify executes the webhook.
func (n *Notifier) Notify(ctx context.Context, msg notify.Message) (notify.Result, error) {
	return n.send(ctx, Build(msg.Event, msg.Link))
}

func (n *Notifier) send(ctx context.Context, params *discordgo.WebhookParams) (notify.Result, error) {
	params.Username, params.AvatarURL = n.cfg.Username, n.cfg.AvatarURL
	body, err := json.Marshal(params)
	if err != nil {
		return notify.Result{}, fmt.Errorf("encode message: %w", err)
	}
	res := notify.Result{Request: "POST <discord webhook> " + outbound.Snippet(body)}
	var a answer
	reply, err := n.session.RequestRaw(http.MethodPost, n.url, "application/json", body, n.bucket, 0,
		discordgo.WithContext(withAnswer(ctx, &a)))
	if a.status == 0 {
		if err == nil {
			err = errors.New("no answer")
		}
		return res, notify.NetworkError(n.name, err)
	}
	rb := a.body.Bytes()
	res.StatusCode, res.Response = a.status, outbound.Snippet(rb)
	if a.header.Get("X-RateLimit-Remaining") == "0" {
		res.Pause = seconds(a.header.Get("X-RateLimit-Reset-After"))
	}
	var rle *discordgo.RateLimitError
	var rest *discordgo.RESTError
	switch {
	case a.status == http.StatusNotFound:
		return res, fmt.Errorf("discord webhook answered 404 (deleted?): %s: %w", outbound.Snippet(rb), notify.ErrGone)
	case a.status == http.StatusTooManyRequests:
		// discordgo reports a 429 as a RateLimitError with the body's
		// retry_after, unless the body is not Discord's JSON.
		var wait time.Duration
		if errors.As(err, &rle) {
			wait = rle.RetryAfter
		}
		if h := outbound.ParseRetryAfter(a.header.Get("Retry-After"), time.Now()); h > wait {
			wait = h
		}
		global := a.header.Get("X-RateLimit-Global") == "true"
		return res, &notify.RetryableError{Err: fmt.Errorf("discord rate limit (global %t)", global), RetryAfter: wait}
	case errors.As(err, &rest) && rest.Response != nil:
		return res, notify.ClassifyHTTP(rest.Response, rest.ResponseBody)
	case a.status < 200 || a.status > 299:
		// A 502 that discordgo did not retry (MaxRestRetries is 0) comes
		// back as a plain error; classify it from the recorded answer.
		return res, notify.ClassifyHTTP(&http.Response{StatusCode: a.status, Header: a.header}, rb)
	case err != nil:
		return res, fmt.Errorf("discord webhook: %w", err)
	}
	var m discordgo.Message
	if json.Unmarshal(reply, &m) == nil {
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
