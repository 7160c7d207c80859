// Package teams delivers events to a Microsoft Teams channel through an
// incoming webhook: a Workflows flow started by "When a Teams webhook
// request is received", or a legacy Office 365 connector URL. Both take a
// message whose attachment is an Adaptive Card.
//
// Teams cannot edit a message posted through a webhook, so a resolved alert
// is a card of its own. The card is kept within Teams' 28 KB message limit.
// The package maps Teams' answers onto the notify contract and never waits
// by itself: 429 (and the legacy connector's "HTTP error 429" in a 200
// answer) becomes a RetryableError with the Retry-After wait, and a webhook
// that no longer exists (404, 410) is notify.ErrGone. The pipeline spaces
// messages to one webhook by MinInterval (Teams allows 4 requests a second).
package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
)

// Type is the integration type this package implements.
const Type = "teams"

// Teams' documented limits for webhook messages.
const (
	// MaxMessageBytes is the largest request body Teams accepts (28 KB).
	MaxMessageBytes = 28 * 1024
	// RequestsPerSecond is how many requests one webhook takes a second.
	RequestsPerSecond = 4
)

// The card's own bounds: data facts are short so that the summary and the
// last log lines keep most of the message.
const (
	maxTitle      = 256
	maxSummary    = 4000
	maxFacts      = 12
	maxFactTitle  = 64
	maxFactValue  = 200
	maxGroup      = 10
	cardVersion   = "1.4"
	contentType   = "application/vnd.microsoft.card.adaptive"
	adaptiveCard  = "AdaptiveCard"
	cardSchemaURL = "http://adaptivecards.io/schemas/adaptive-card.json"
)

// Plugin is the Teams integration type.
var Plugin = notify.Plugin{Settings: func() notify.Settings { return &Config{} }, New: New}

// Config is the Teams integration's own keys.
type Config struct {
	WebhookURL string        `yaml:"webhookURL" config:"secret"`
	Timeout    time.Duration `yaml:"timeout"`
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	return errors.Join(outbound.CheckSecretURLKey("webhookURL", c.WebhookURL), c.client().Validate())
}

// client is the one client key a Teams integration accepts.
func (c *Config) client() outbound.ClientConfig { return outbound.ClientConfig{Timeout: c.Timeout} }

// Notifier posts cards to one Teams webhook.
type Notifier struct {
	name   string
	cfg    Config
	client *http.Client
}

var (
	_ notify.Notifier = (*Notifier)(nil)
	_ notify.Grouper  = (*Notifier)(nil)
)

// New is the Factory of Teams integrations.
func New(spec notify.Spec) (notify.Notifier, error) {
	cfg, client, err := notify.HTTPSettings(spec, (*Config).client)
	if err != nil {
		return nil, err
	}
	return &Notifier{name: spec.Name, cfg: cfg, client: client}, nil
}

// Message is the body Teams' webhooks take: one Adaptive Card attachment.
type Message struct {
	Type        string       `json:"type"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment carries the card.
type Attachment struct {
	ContentType string `json:"contentType"`
	Content     Card   `json:"content"`
}

// Card is the Adaptive Card (the parts opshub uses).
type Card struct {
	Schema  string    `json:"$schema"`
	Type    string    `json:"type"`
	Version string    `json:"version"`
	Body    []Element `json:"body"`
	Actions []Action  `json:"actions,omitempty"`
	MSTeams *MSTeams  `json:"msteams,omitempty"`
}

// MSTeams are Teams' own card settings.
type MSTeams struct {
	Width string `json:"width,omitempty"`
}

// Element is a TextBlock, a FactSet or a Container.
type Element struct {
	Type     string    `json:"type"`
	Text     string    `json:"text,omitempty"`
	Size     string    `json:"size,omitempty"`
	Weight   string    `json:"weight,omitempty"`
	Color    string    `json:"color,omitempty"`
	FontType string    `json:"fontType,omitempty"`
	Wrap     bool      `json:"wrap,omitempty"`
	Style    string    `json:"style,omitempty"`
	Facts    []Fact    `json:"facts,omitempty"`
	Items    []Element `json:"items,omitempty"`
}

// Fact is one title/value pair of a FactSet.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// Action is an Action.OpenUrl button.
type Action struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Build renders one event as a Teams message within MaxMessageBytes.
func Build(ev model.Event, link string) Message {
	return wrap(fit([]model.Event{ev}, []string{link}, MaxMessageBytes))
}

// BuildGroup renders a burst of events of one kind and status as one card,
// one section each, within MaxMessageBytes.
func BuildGroup(evs []model.Event, links []string) Message {
	if len(evs) > maxGroup {
		evs, links = evs[:maxGroup], links[:maxGroup]
	}
	return wrap(fit(evs, links, MaxMessageBytes))
}

func wrap(c Card) Message {
	return Message{Type: "message", Attachments: []Attachment{{ContentType: contentType, Content: c}}}
}

// fit builds the card, shortening the last lines, then the facts, then the
// summaries until the whole message is at most budget bytes.
func fit(evs []model.Event, links []string, budget int) Card {
	lines, facts, summary := 20, maxFacts, maxSummary
	for {
		c := card(evs, links, lines, facts, summary)
		if size(wrap(c)) <= budget {
			return c
		}
		switch {
		case lines > 0:
			lines /= 2
		case facts > 2:
			facts /= 2
		case summary > 100:
			summary /= 2
		default:
			return c // titles alone: cannot get over the limit with maxGroup events
		}
	}
}

func size(m Message) int {
	b, _ := json.Marshal(m)
	return len(b)
}

func card(evs []model.Event, links []string, lines, facts, summary int) Card {
	first := evs[0]
	c := Card{Schema: cardSchemaURL, Type: adaptiveCard, Version: cardVersion, MSTeams: &MSTeams{Width: "Full"}}
	title := fmt.Sprintf("[%s] %s %s", strings.ToUpper(first.Status), first.Name, where(first))
	if len(evs) > 1 {
		title = fmt.Sprintf("[%s] %d × %s", strings.ToUpper(first.Status), len(evs), first.Name)
	}
	c.Body = append(c.Body, Element{Type: "TextBlock", Text: cut(title, maxTitle), Size: "Large", Weight: "Bolder", Color: color(first), Wrap: true})
	for i, ev := range evs {
		section := eventElements(ev, lines, facts, summary)
		if len(evs) > 1 {
			head := Element{Type: "TextBlock", Text: cut(where(ev)+" "+ev.Instance, maxTitle), Weight: "Bolder", Wrap: true}
			c.Body = append(c.Body, Element{Type: "Container", Style: "emphasis", Items: append([]Element{head}, section...)})
		} else {
			c.Body = append(c.Body, section...)
		}
		if links[i] != "" && len(c.Actions) < 5 {
			name := "Service in opshub"
			if len(evs) > 1 {
				name = cut(where(ev)+" in opshub", 64)
			}
			if !hasAction(c.Actions, links[i]) {
				c.Actions = append(c.Actions, Action{Type: "Action.OpenUrl", Title: name, URL: links[i]})
			}
		}
	}
	return c
}

func hasAction(as []Action, url string) bool {
	for _, a := range as {
		if a.URL == url {
			return true
		}
	}
	return false
}

// eventElements are one event's summary, facts and last lines.
func eventElements(ev model.Event, lines, facts, summary int) []Element {
	out := []Element{{Type: "TextBlock", Text: cut(escape(ev.Summary), summary), Wrap: true}}
	fs := []Fact{}
	if ev.Instance != "" {
		fs = append(fs, Fact{Title: "instance", Value: cut(ev.Instance, maxFactValue)})
	}
	fs = append(fs, Fact{Title: "severity", Value: string(ev.Severity)})
	for _, k := range notify.DataKeys(ev) {
		if len(fs) >= facts {
			break
		}
		v := fmt.Sprint(ev.Data[k])
		if v == "" {
			v = "-"
		}
		fs = append(fs, Fact{Title: cut(k, maxFactTitle), Value: cut(escape(v), maxFactValue)})
	}
	out = append(out, Element{Type: "FactSet", Facts: fs})
	if ll := notify.LastLines(ev); len(ll) > 0 && lines > 0 && ev.Status != model.StatusResolved {
		if len(ll) > lines {
			ll = ll[len(ll)-lines:]
		}
		out = append(out,
			Element{Type: "TextBlock", Text: "Last lines", Weight: "Bolder"},
			Element{Type: "TextBlock", Text: escape(strings.Join(ll, "\n")), FontType: "Monospace", Wrap: true})
	}
	return out
}

func where(ev model.Event) string { return strings.Trim(ev.Project+"/"+ev.Service, "/") }

// color is the Adaptive Card colour of the title.
func color(ev model.Event) string {
	switch {
	case ev.Status == model.StatusResolved:
		return "Good"
	case ev.Severity == model.SeverityCritical:
		return "Attention"
	case ev.Severity == model.SeverityWarning:
		return "Warning"
	}
	return "Accent"
}

// escape keeps user text from being read as the Markdown TextBlocks render.
var markdown = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "`", "\\`", "#", `\#`)

func escape(s string) string { return markdown.Replace(s) }

// cut shortens s to at most n characters, marking the cut with "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-1]) + "…"
}

// MaxGroup is how many events one card carries.
func (n *Notifier) MaxGroup() int { return maxGroup }

// NotifyGroup posts a burst as one card.
func (n *Notifier) NotifyGroup(ctx context.Context, msgs []notify.Message) (notify.Result, error) {
	evs, links := notify.Split(msgs)
	return n.send(ctx, BuildGroup(evs, links))
}

// Notify posts one event's card.
func (n *Notifier) Notify(ctx context.Context, msg notify.Message) (notify.Result, error) {
	return n.send(ctx, Build(msg.Event, msg.Link))
}

// legacyError is how an Office 365 connector reports a failure inside a
// 200 answer.
var legacyError = regexp.MustCompile(`Microsoft Teams endpoint returned HTTP error (\d{3})`)

func (n *Notifier) send(ctx context.Context, m Message) (notify.Result, error) {
	req, body, err := notify.JSONRequest(ctx, n.cfg.WebhookURL, m)
	if err != nil {
		return notify.Result{}, err
	}
	// Without the charset Teams counts the body as UTF-16, halving the limit.
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	res := notify.Result{Request: "POST <teams webhook> " + outbound.Snippet(body)}
	resp, rb, err := notify.Exchange(n.client, n.name, req, &res)
	if err != nil {
		return res, err
	}
	code := resp.StatusCode
	if m := legacyError.FindSubmatch(rb); m != nil && code >= 200 && code < 300 {
		code, _ = strconv.Atoi(string(m[1]))
		res.StatusCode = code
	}
	switch {
	case code >= 200 && code < 300:
		return res, nil
	case code == http.StatusNotFound || code == http.StatusGone:
		return res, fmt.Errorf("teams webhook answered %d (workflow or connector deleted?): %s: %w", code, outbound.Snippet(rb), notify.ErrGone)
	case code == http.StatusRequestEntityTooLarge:
		return res, fmt.Errorf("teams refused a %d-byte message as too large: %s", len(body), outbound.Snippet(rb))
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		return res, &notify.RetryableError{
			Err:        fmt.Errorf("teams webhook answered %d: %s", code, outbound.Snippet(rb)),
			RetryAfter: outbound.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		}
	}
	return res, fmt.Errorf("teams webhook answered %d: %s", code, outbound.Snippet(rb))
}
