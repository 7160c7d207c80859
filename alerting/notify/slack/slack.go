// Package slack delivers events to Slack with Block Kit messages, either
// with a bot token to a channel (chat.postMessage; on resolve the original
// message is updated with chat.update) or to an incoming-webhook URL.
//
// It maps Slack's answers onto the notify contract and never waits by
// itself: a 429 becomes a RetryableError with Slack's Retry-After, and a
// token or channel that no longer works is notify.ErrGone.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/slack-go/slack"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
)

// Type is the integration type this package implements.
const Type = "slack"

// Block Kit limits this package keeps to.
const (
	maxHeader  = 150
	maxSection = 3000
)

// Plugin is the Slack integration type.
var Plugin = notify.Plugin{Settings: func() notify.Settings { return &Config{} }, New: New}

// Config is the Slack integration's own keys: token and channel, or
// webhookURL.
type Config struct {
	Token      string `yaml:"token" config:"secret"`
	Channel    string `yaml:"channel"`
	WebhookURL string `yaml:"webhookURL" config:"secret"`
	// APIURL overrides Slack's Web API base (for tests and proxies).
	APIURL   string `yaml:"apiURL"`
	Username string `yaml:"username"`
}

// Notifier posts to one Slack channel or incoming webhook.
type Notifier struct {
	name   string
	cfg    Config
	api    *slack.Client
	client *http.Client
}

var _ notify.Notifier = (*Notifier)(nil)

// New is the Factory of Slack integrations.
// Validate reports every bad key at once.
func (c *Config) Validate() error {
	var errs []error
	switch {
	case c.Token != "" && c.WebhookURL != "":
		errs = append(errs, errors.New("give only one of token, webhookURL"))
	case c.Token == "" && c.WebhookURL == "":
		errs = append(errs, errors.New("needs one of token, webhookURL"))
	case c.Token != "" && c.Channel == "":
		errs = append(errs, errors.New("channel: is required when token is given"))
	case c.WebhookURL != "":
		errs = append(errs, outbound.CheckSecretURLKey("webhookURL", c.WebhookURL))
	}
	if c.APIURL != "" {
		errs = append(errs, outbound.CheckURLKey("apiURL", c.APIURL))
	}
	return errors.Join(errs...)
}

func New(spec notify.Spec) (notify.Notifier, error) {
	cfg, client, err := notify.HTTPSettings[Config](spec, nil)
	if err != nil {
		return nil, err
	}
	n := &Notifier{name: spec.Name, cfg: cfg, client: client}
	switch {
	case cfg.Token != "" && cfg.Channel != "":
		opts := []slack.Option{slack.OptionHTTPClient(client)}
		if cfg.APIURL != "" {
			u := cfg.APIURL
			if !strings.HasSuffix(u, "/") {
				u += "/"
			}
			opts = append(opts, slack.OptionAPIURL(u))
		}
		n.api = slack.New(cfg.Token, opts...)
	case cfg.WebhookURL != "":
	default:
		return nil, errors.New("needs token and channel, or webhookURL")
	}
	return n, nil
}

// Blocks renders an event as Block Kit blocks, with fallback text.
func Blocks(ev model.Event, link string) ([]slack.Block, string) {
	mark := ":red_circle:"
	switch {
	case ev.Status == model.StatusResolved:
		mark = ":large_green_circle:"
	case ev.Severity == model.SeverityWarning:
		mark = ":large_orange_circle:"
	case ev.Severity == model.SeverityInfo:
		mark = ":large_blue_circle:"
	}
	where := strings.Trim(ev.Project+"/"+ev.Service, "/")
	title := fmt.Sprintf("[%s] %s %s", strings.ToUpper(ev.Status), ev.Name, where)
	fallback := fmt.Sprintf("%s %s: %s", mark, title, ev.Summary)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, cut(title, maxHeader), true, false)),
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, cut(mark+" "+escape(ev.Summary), maxSection), false, false), nil, nil),
	}
	var facts []slack.MixedElement
	if ev.Instance != "" {
		facts = append(facts, slack.NewTextBlockObject(slack.MarkdownType, "*instance* "+escape(ev.Instance), false, false))
	}
	facts = append(facts, slack.NewTextBlockObject(slack.MarkdownType, "*severity* "+string(ev.Severity), false, false))
	if link != "" {
		facts = append(facts, slack.NewTextBlockObject(slack.MarkdownType, "<"+link+"|service in opshub>", false, false))
	}
	blocks = append(blocks, slack.NewContextBlock("", facts...))
	if lines := notify.LastLines(ev); len(lines) > 0 && ev.Status != model.StatusResolved {
		text := "```" + strings.ReplaceAll(strings.Join(lines, "\n"), "```", "'''") + "```"
		if len(text) > maxSection {
			text = "```…" + text[len(text)-maxSection+4:]
		}
		blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil))
	}
	return blocks, fallback
}

// escape keeps user text from being read as Slack markup.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

var _ notify.Grouper = (*Notifier)(nil)

// maxGroup keeps a grouped message within Slack's 50 blocks (two per event
// plus the header).
const maxGroup = 20

// MaxGroup is how many events one message carries.
func (n *Notifier) MaxGroup() int { return maxGroup }

// GroupBlocks renders a burst of events of one kind and status as one
// message: a header, then each event's summary and facts.
func GroupBlocks(evs []model.Event, links []string) ([]slack.Block, string) {
	first := evs[0]
	title := fmt.Sprintf("[%s] %d × %s", strings.ToUpper(first.Status), len(evs), first.Name)
	blocks := []slack.Block{slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, cut(title, maxHeader), true, false))}
	for i, ev := range evs {
		evBlocks, _ := Blocks(ev, links[i])
		blocks = append(blocks, evBlocks[1], evBlocks[2]) // the summary and the facts
	}
	return blocks, title
}

// NotifyGroup posts a burst as one message (never updated on resolve).
func (n *Notifier) NotifyGroup(ctx context.Context, msgs []notify.Message) (notify.Result, error) {
	evs, links := notify.Split(msgs)
	blocks, fallback := GroupBlocks(evs, links)
	return n.post(ctx, blocks, fallback)
}

// Notify posts the message, or updates the firing message on resolve.
func (n *Notifier) Notify(ctx context.Context, msg notify.Message) (notify.Result, error) {
	blocks, fallback := Blocks(msg.Event, msg.Link)
	if channel, ts, ok := strings.Cut(msg.Ref, " "); ok && n.api != nil && msg.Event.Status == model.StatusResolved {
		res := notify.Result{Request: "chat.update " + channel + " " + ts + " " + outbound.Snippet([]byte(fallback))}
		_, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts, n.msgOptions(blocks, fallback)...)
		if err == nil {
			res.StatusCode, res.Ref = 200, msg.Ref
		}
		return res, n.classify(&res, err)
	}
	return n.post(ctx, blocks, fallback)
}

func (n *Notifier) msgOptions(blocks []slack.Block, fallback string) []slack.MsgOption {
	opts := []slack.MsgOption{slack.MsgOptionText(fallback, false), slack.MsgOptionBlocks(blocks...)}
	if n.cfg.Username != "" {
		opts = append(opts, slack.MsgOptionUsername(n.cfg.Username))
	}
	return opts
}

// post sends a new message to the channel or the incoming webhook.
func (n *Notifier) post(ctx context.Context, blocks []slack.Block, fallback string) (notify.Result, error) {
	if n.api == nil {
		res := notify.Result{Request: "POST <slack webhook> " + outbound.Snippet([]byte(fallback))}
		err := slack.PostWebhookCustomHTTPContext(ctx, n.cfg.WebhookURL, n.client, &slack.WebhookMessage{
			Text: fallback, Username: n.cfg.Username, Blocks: &slack.Blocks{BlockSet: blocks},
		})
		return res, n.classify(&res, err)
	}
	res := notify.Result{Request: "chat.postMessage " + n.cfg.Channel + " " + outbound.Snippet([]byte(fallback))}
	channel, ts, err := n.api.PostMessageContext(ctx, n.cfg.Channel, n.msgOptions(blocks, fallback)...)
	if err == nil {
		res.StatusCode, res.Ref, res.Response = 200, channel+" "+ts, "ok ts="+ts
	}
	return res, n.classify(&res, err)
}

// goneErrors are Slack API errors after which nothing sent will arrive.
var goneErrors = map[string]bool{
	"channel_not_found": true, "is_archived": true, "invalid_auth": true, "not_authed": true,
	"account_inactive": true, "token_revoked": true, "no_service": true, "channel_is_archived": true,
}

func (n *Notifier) classify(res *notify.Result, err error) error {
	if err == nil {
		if res.StatusCode == 0 {
			res.StatusCode = 200
		}
		return nil
	}
	res.Response = outbound.Snippet([]byte(err.Error()))
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	var ne net.Error
	switch {
	case errors.As(err, &rl):
		res.StatusCode = 429
		return &notify.RetryableError{Err: fmt.Errorf("slack: %w", err), RetryAfter: rl.RetryAfter}
	case errors.As(err, &sc):
		res.StatusCode = sc.Code
		if sc.Code == 404 || sc.Code == 410 {
			return fmt.Errorf("slack answered %d: %w", sc.Code, notify.ErrGone)
		}
		if sc.Code >= 500 || sc.Code == 408 {
			return &notify.RetryableError{Err: fmt.Errorf("slack: %w", err)}
		}
		return fmt.Errorf("slack: %w", err)
	case errors.As(err, &se) && goneErrors[se.Err]:
		res.StatusCode = 200
		return fmt.Errorf("slack: %s: %w", se.Err, notify.ErrGone)
	case errors.As(err, &se):
		res.StatusCode = 200
		return fmt.Errorf("slack: %w", err)
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return notify.NetworkError(n.name, err)
	}
	if goneErrors[err.Error()] {
		return fmt.Errorf("slack: %s: %w", err, notify.ErrGone)
	}
	return &notify.RetryableError{Err: fmt.Errorf("slack: %w", err)}
}
