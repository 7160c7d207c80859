// Package email delivers events as email through an SMTP smarthost: one
// message per event with a plain-text and an HTML part, a subject naming
// the state, the event and the resource ("[FIRING] container.crash
// demo/web web-7f9c-2"), a Message-ID derived from the delivery id (a
// retry sends the same message again, not a new one) and, on resolve,
// In-Reply-To and References naming the firing message so that mail
// readers show both in one thread.
//
// It speaks SMTP through github.com/wneessen/go-mail and maps the server's
// replies onto the notify contract: a 4xx reply or a failure to reach the
// server is an *outbound.RetryableError (the outbox's one failure policy),
// a 5xx reply a permanent failure. It must not retry or queue by itself;
// the alerting pipeline does that.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"text/template"
	"time"

	mail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/outbound"
)

// Type is the integration type this package implements.
const Type = "email"

// implicitTLSPort is the submissions port (RFC 8314): TLS from the first
// byte instead of STARTTLS.
const implicitTLSPort = 465

// Plugin is the email integration type.
var Plugin = notify.Plugin{Settings: func() notify.Settings { return &Config{RequireTLS: true} }, New: New}

// Config is the email integration's own keys.
type Config struct {
	// To are the recipients ("ops@example.com" or "Ops <ops@example.com>").
	To []string `yaml:"to"`
	// From is the sender, in the From header and the SMTP envelope.
	From string `yaml:"from"`
	// Smarthost is the SMTP server as host:port; port 465 means implicit
	// TLS, any other port plain SMTP upgraded with STARTTLS.
	Smarthost string `yaml:"smarthost"`
	// Hello is the name sent in EHLO; the machine's host name by default.
	Hello string `yaml:"hello"`
	Auth  Auth   `yaml:"auth"`
	// RequireTLS refuses to send unless the server offers STARTTLS (default
	// true); false still uses STARTTLS when the server offers it.
	RequireTLS bool         `yaml:"requireTLS"`
	TLS        outbound.TLS `yaml:"tls"`
	// Headers are added to every message. Subject replaces the subject and
	// is a Go template over the event (.Name, .Status, .Project, .Service,
	// .Instance, .Summary, .Data) and .Title, the default subject.
	Headers map[string]string `yaml:"headers"`
	// Timeout bounds one delivery (connect, TLS, AUTH and the message);
	// notify.DefaultTimeout when zero.
	Timeout time.Duration `yaml:"timeout"`
}

// Auth is `auth`: a password for AUTH PLAIN (LOGIN when the server offers
// no PLAIN), or a secret for CRAM-MD5.
type Auth struct {
	Username string `yaml:"username"`
	Password string `yaml:"password" config:"secret"`
	Secret   string `yaml:"secret" config:"secret"`
}

// reservedHeaders are the headers every message gets from opshub itself.
var reservedHeaders = map[string]string{
	"From": "from", "To": "to", "Cc": "to", "Bcc": "to", "Message-Id": "", "In-Reply-To": "", "References": "",
	"Date": "", "Mime-Version": "", "Content-Type": "", "Content-Transfer-Encoding": "",
}

// Validate reports every bad key at once.
func (c *Config) Validate() error {
	var errs []error
	if len(c.To) == 0 {
		errs = append(errs, errors.New("to: is required (a list of addresses)"))
	}
	for i, a := range c.To {
		if _, err := netmail.ParseAddress(a); err != nil {
			errs = append(errs, fmt.Errorf("to: entry %d: %q is not an email address", i+1, a))
		}
	}
	if c.From == "" {
		errs = append(errs, errors.New("from: is required"))
	} else if _, err := netmail.ParseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("from: %q is not an email address", c.From))
	}
	if _, _, err := splitHostPort(c.Smarthost); err != nil {
		errs = append(errs, fmt.Errorf("smarthost: %w", err))
	}
	a := c.Auth
	switch {
	case a.Password != "" && a.Secret != "":
		errs = append(errs, errors.New("auth: give only one of password (PLAIN, LOGIN), secret (CRAM-MD5)"))
	case a.Username == "" && (a.Password != "" || a.Secret != ""):
		errs = append(errs, errors.New("auth.username: is required with a password or secret"))
	case a.Username != "" && a.Password == "" && a.Secret == "":
		errs = append(errs, errors.New("auth.password: is required with a username (or passwordFile, or secret for CRAM-MD5)"))
	}
	errs = append(errs, c.TLS.Validate())
	for k, v := range c.Headers {
		name := textproto.CanonicalMIMEHeaderKey(k)
		if strings.ContainsAny(k, " :\r\n") || k == "" {
			errs = append(errs, fmt.Errorf("headers: %q is not a header name", k))
			continue
		}
		if strings.ContainsAny(v, "\r\n") {
			errs = append(errs, fmt.Errorf("headers.%s: must be one line", k))
		}
		if key, ok := reservedHeaders[name]; ok {
			hint := "opshub sets it"
			if key != "" {
				hint = "set " + key + " instead"
			}
			errs = append(errs, fmt.Errorf("headers.%s: cannot be set here (%s)", k, hint))
		}
		if name == "Subject" {
			if _, err := subjectTemplate(v); err != nil {
				errs = append(errs, fmt.Errorf("headers.%s: %w", k, err))
			}
		}
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

func splitHostPort(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("is required (host:port)")
	}
	host, p, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", 0, fmt.Errorf("must be host:port, got %q", s)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("port must be a number from 1 to 65535, got %q", p)
	}
	return host, port, nil
}

func subjectTemplate(s string) (*template.Template, error) {
	return template.New("subject").Option("missingkey=zero").Parse(s)
}

// Notifier sends events to the recipients of one integration.
type Notifier struct {
	name string
	cfg  Config
	host string
	port int
	tls  *tls.Config
	// implicitTLS speaks TLS from the first byte: port 465.
	implicitTLS bool
	subject     *template.Template
	headers     map[string]string
}

var _ notify.Notifier = (*Notifier)(nil)

// New is the Factory of email integrations.
func New(spec notify.Spec) (notify.Notifier, error) {
	c, err := notify.SettingsOf[*Config](spec)
	if err != nil {
		return nil, err
	}
	cfg := *c
	host, port, err := splitHostPort(cfg.Smarthost)
	if err != nil {
		return nil, fmt.Errorf("smarthost: %w", err)
	}
	tc, err := outbound.NewTLSConfig(cfg.TLS)
	if err != nil {
		return nil, err
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	n := &Notifier{name: spec.Name, cfg: cfg, host: host, port: port, tls: tc, implicitTLS: port == implicitTLSPort, headers: map[string]string{}}
	for k, v := range cfg.Headers {
		if textproto.CanonicalMIMEHeaderKey(k) == "Subject" {
			if n.subject, err = subjectTemplate(v); err != nil {
				return nil, fmt.Errorf("headers.%s: %w", k, err)
			}
			continue
		}
		n.headers[k] = v
	}
	if cfg.Timeout == 0 {
		n.cfg.Timeout = notify.DefaultTimeout
	}
	return n, nil
}

// client is a connection's settings; go-mail dials when the message is sent.
func (n *Notifier) client() (*mail.Client, error) {
	opts := []mail.Option{mail.WithPort(n.port), mail.WithTimeout(n.cfg.Timeout), mail.WithTLSConfig(n.tls)}
	switch {
	case n.implicitTLS:
		opts = append(opts, mail.WithSSL())
	case n.cfg.RequireTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	}
	if n.cfg.Hello != "" {
		opts = append(opts, mail.WithHELO(n.cfg.Hello))
	}
	switch a := n.cfg.Auth; {
	case a.Secret != "":
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthCramMD5), mail.WithUsername(a.Username), mail.WithPassword(a.Secret))
	case a.Password != "":
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin), mail.WithUsername(a.Username), mail.WithPassword(a.Password))
	}
	return mail.NewClient(n.host, opts...)
}

// Notify sends the event's message.
func (n *Notifier) Notify(ctx context.Context, msg notify.Message) (notify.Result, error) {
	m, id, err := n.compose(msg)
	if err != nil {
		return notify.Result{}, err
	}
	res := notify.Result{Request: fmt.Sprintf("SMTP %s from %s to %s: Message-ID <%s>, Subject %q",
		n.cfg.Smarthost, n.cfg.From, strings.Join(n.cfg.To, ", "), id, m.GetGenHeader(mail.HeaderSubject))}
	c, err := n.client()
	if err != nil {
		return res, fmt.Errorf("integration %q: %w", n.name, err)
	}
	err = c.DialAndSendWithContext(ctx, m)
	if err == nil {
		res.StatusCode, res.Response, res.Ref = 250, "accepted", id
		return res, nil
	}
	code := ReplyCode(err)
	res.StatusCode, res.Response = code, outbound.Snippet([]byte(err.Error()))
	return res, Classify(n.name, err)
}

// ReplyCode is the SMTP reply code in err, or 0 when the server gave none
// (it could not be reached, or the connection broke).
func ReplyCode(err error) int {
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		return se.ErrorCode()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// Classify turns a failed delivery into the error Notify returns: a 5xx
// reply, or a server that cannot do what the settings ask (no STARTTLS
// when requireTLS is set, no AUTH mechanism the credentials fit), is a
// permanent failure; a 4xx reply and every failure to reach the server or
// to finish the conversation is an *outbound.RetryableError.
func Classify(name string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("integration %q: %w", name, err)
	code := ReplyCode(err)
	switch {
	case code >= 500:
		return err
	case code >= 400:
		return &outbound.RetryableError{Err: err}
	case errors.Is(err, smtp.ErrUnencrypted), errors.Is(err, mail.ErrPlainAuthNotSupported),
		errors.Is(err, mail.ErrLoginAuthNotSupported), errors.Is(err, mail.ErrCramMD5AuthNotSupported),
		strings.Contains(err.Error(), "does not support STARTTLS"), strings.Contains(err.Error(), "does not support SMTP AUTH"):
		return err
	}
	return outbound.NetworkError(err)
}
