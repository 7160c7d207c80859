package email

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"sort"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/model"
)

// maxLines bounds the log lines a message carries.
const maxLines = 50

// Title is a message's default subject: the state, the event and the
// resource, as "[FIRING] container.crash demo/web web-7f9c-2".
func Title(ev model.Event) string {
	parts := []string{"[" + strings.ToUpper(ev.Status) + "]", ev.Name}
	if where := strings.Trim(ev.Project+"/"+ev.Service, "/"); where != "" {
		parts = append(parts, where)
	}
	if ev.Instance != "" {
		parts = append(parts, ev.Instance)
	}
	return strings.Join(parts, " ")
}

// MessageID is the Message-ID (without angle brackets) of a delivery's
// message: the same for every attempt of that delivery, in the domain of
// the sender's address.
func MessageID(deliveryID, from string) string {
	domain := "opshub.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	var b strings.Builder
	b.WriteString("opshub.")
	for _, r := range deliveryID {
		if r < 0x80 && (r == '-' || r == '.' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "=%02X", r)
		}
	}
	return b.String() + "@" + domain
}

// fact is one row of a message's table.
type fact struct{ Name, Value string }

// content is what both parts of a message show.
type content struct {
	Title, Summary, Link string
	Facts                []fact
	Lines                []string
	Instance             string
}

func contentOf(msg notify.Message) content {
	ev := msg.Event
	c := content{Title: Title(ev), Summary: ev.Summary, Link: msg.Link, Instance: ev.Instance}
	add := func(name, value string) {
		if value != "" {
			c.Facts = append(c.Facts, fact{name, value})
		}
	}
	add("event", ev.Name)
	add("status", ev.Status)
	add("severity", string(ev.Severity))
	add("project", ev.Project)
	add("service", ev.Service)
	add("instance", ev.Instance)
	if !ev.Time.IsZero() {
		add("time", ev.Time.UTC().Format(time.RFC3339))
	}
	currency, _ := ev.Data["currency"].(string)
	keys := make([]string, 0, len(ev.Data))
	for k := range ev.Data {
		switch k {
		case "lastLines", "link":
		case "currency":
			if currency == "" {
				keys = append(keys, k)
			}
		default:
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := ev.Data[k]
		if f, ok := v.(float64); ok && currency != "" && moneyKeys[k] {
			add(k, fmt.Sprintf("%.2f %s", f, currency))
			continue
		}
		add(k, fmt.Sprint(v))
	}
	if ev.Status != model.StatusResolved {
		c.Lines = notify.LastLines(ev)
		if len(c.Lines) > maxLines {
			c.Lines = c.Lines[len(c.Lines)-maxLines:]
		}
	}
	return c
}

// moneyKeys are the spend events' amounts, shown in their currency.
var moneyKeys = map[string]bool{"amount": true, "monthToDate": true, "forecast": true, "forecastLinear": true}

func (c content) text() string {
	var b strings.Builder
	b.WriteString(c.Title + "\n\n")
	if c.Summary != "" {
		b.WriteString(c.Summary + "\n\n")
	}
	width := 0
	for _, f := range c.Facts {
		width = max(width, len(f.Name))
	}
	for _, f := range c.Facts {
		fmt.Fprintf(&b, "%-*s  %s\n", width, f.Name, f.Value)
	}
	if len(c.Lines) > 0 {
		b.WriteString("\nLast log lines")
		if c.Instance != "" {
			b.WriteString(" of " + c.Instance)
		}
		b.WriteString(":\n")
		for _, l := range c.Lines {
			b.WriteString("    " + l + "\n")
		}
	}
	if c.Link != "" {
		b.WriteString("\nOpen in opshub: " + c.Link + "\n")
	}
	return b.String()
}

var htmlPart = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif; font-size: 14px; color: #1f2328">
<h2 style="margin: 0 0 8px">{{.Title}}</h2>
{{if .Summary}}<p>{{.Summary}}</p>{{end}}
<table style="border-collapse: collapse">
{{range .Facts}}<tr><th style="text-align: left; padding: 2px 12px 2px 0; color: #59636e; font-weight: normal">{{.Name}}</th><td style="padding: 2px 0">{{.Value}}</td></tr>
{{end}}</table>
{{if .Lines}}<p><b>Last log lines{{if .Instance}} of {{.Instance}}{{end}}</b></p>
<pre style="background: #f6f8fa; padding: 8px; white-space: pre-wrap">{{range .Lines}}{{.}}
{{end}}</pre>{{end}}
{{if .Link}}<p><a href="{{.Link}}">Open in opshub</a></p>{{end}}
</body></html>
`))

func (c content) html() (string, error) {
	var b bytes.Buffer
	if err := htmlPart.Execute(&b, c); err != nil {
		return "", err
	}
	return b.String(), nil
}

// subjectData is what a Subject header template sees.
type subjectData struct {
	model.Event
	Title string
}

// compose builds the message of one delivery and returns it with its
// Message-ID.
func (n *Notifier) compose(msg notify.Message) (*gomail.Msg, string, error) {
	ev := msg.Event
	c := contentOf(msg)
	subject := c.Title
	if n.subject != nil {
		var b strings.Builder
		if err := n.subject.Execute(&b, subjectData{Event: ev, Title: c.Title}); err != nil {
			return nil, "", fmt.Errorf("headers.Subject: %w", err)
		}
		subject = strings.Join(strings.Fields(b.String()), " ")
	}
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := m.From(n.cfg.From); err != nil {
		return nil, "", fmt.Errorf("from: %w", err)
	}
	if err := m.To(n.cfg.To...); err != nil {
		return nil, "", fmt.Errorf("to: %w", err)
	}
	id := MessageID(msg.ID, n.cfg.From)
	m.SetMessageIDWithValue(id)
	if ev.Time.IsZero() {
		m.SetDate()
	} else {
		m.SetDateWithValue(ev.Time)
	}
	m.Subject(subject)
	if msg.Ref != "" && ev.Status == model.StatusResolved {
		m.SetGenHeader(gomail.HeaderInReplyTo, "<"+msg.Ref+">")
		m.SetGenHeader(gomail.HeaderReferences, "<"+msg.Ref+">")
	}
	m.SetGenHeader(gomail.HeaderUserAgent, "opshub")
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	m.SetGenHeader("X-Opshub-Event", ev.Name)
	m.SetGenHeader("X-Opshub-Status", ev.Status)
	for k, v := range n.headers {
		m.SetGenHeader(gomail.Header(k), v)
	}
	m.SetBodyString(gomail.TypeTextPlain, c.text())
	h, err := c.html()
	if err != nil {
		return nil, "", fmt.Errorf("render html: %w", err)
	}
	m.AddAlternativeString(gomail.TypeTextHTML, h)
	return m, id, nil
}
