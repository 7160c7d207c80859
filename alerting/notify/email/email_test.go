package email_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/alerting/notify/email"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func crash() model.Event {
	return model.Event{ID: "evt_1", Name: model.EventContainerCrash, Status: model.StatusFiring, Severity: model.SeverityCritical,
		Time: time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC), Project: "demo", Service: "web", Instance: "web-7f9c-2",
		Summary: "web-7f9c-2 exited with code 1",
		Data:    map[string]any{"exitCode": 1, "reason": "Error", "lastLines": []any{"listening on :8080", "panic: <nil> map & friends"}}}
}

func notifier(t *testing.T, keys string) notify.Notifier {
	t.Helper()
	n, err := email.New(notify.Spec{Name: "mail", Type: email.Type, Settings: plugintest.Decode(t, email.Plugin.Settings(), keys)})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// parsed is a received message read the way a mail reader does.
type parsed struct {
	header      mail.Header
	text, html  string
	contentType string
}

func parse(t *testing.T, m sinktest.Mail) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, m.Data)
	}
	p := parsed{header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	p.contentType = mt
	if mt != "multipart/alternative" {
		t.Fatalf("Content-Type %s, want multipart/alternative", mt)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		switch pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); pt {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		}
	}
	return p
}

func TestPlainMessage(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{})
	n := notifier(t, `{to: [ops@example.com, "Billing <billing@example.com>"], from: opshub@example.com, smarthost: "`+srv.Addr+`", requireTLS: false, hello: opshub.test}`)
	msg := notify.Message{ID: "dlv_000000000042", Event: crash(), Link: "https://opshub.example.com/services/demo/web?tab=logs"}
	res, err := n.Notify(context.Background(), msg)
	if err != nil {
		t.Fatalf("Notify: %v (%+v)", err, res)
	}
	got := srv.WaitMessages(t, 1, 10*time.Second)[0]
	if got.From != "opshub@example.com" || strings.Join(got.To, ",") != "ops@example.com,billing@example.com" || got.TLS {
		t.Errorf("envelope from %q to %v tls %v", got.From, got.To, got.TLS)
	}
	p := parse(t, got)
	if s := p.header.Get("Subject"); s != "[FIRING] container.crash demo/web web-7f9c-2" {
		t.Errorf("Subject %q", s)
	}
	if id := p.header.Get("Message-Id"); id != "<opshub.dlv_000000000042@example.com>" || res.Ref != "opshub.dlv_000000000042@example.com" {
		t.Errorf("Message-ID %q, ref %q", id, res.Ref)
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(crash().Time) {
		t.Errorf("Date %v (%v), want the event's time", d, err)
	}
	if p.header.Get("In-Reply-To") != "" {
		t.Errorf("a firing message has In-Reply-To %q", p.header.Get("In-Reply-To"))
	}
	for _, want := range []string{"web-7f9c-2 exited with code 1", "exitCode", "    panic: <nil> map & friends", "Open in opshub: https://opshub.example.com/services/demo/web?tab=logs"} {
		if !strings.Contains(p.text, want) {
			t.Errorf("text part lacks %q:\n%s", want, p.text)
		}
	}
	for _, want := range []string{"panic: &lt;nil&gt; map &amp; friends", `<a href="https://opshub.example.com/services/demo/web?tab=logs">`} {
		if !strings.Contains(p.html, want) {
			t.Errorf("html part lacks %q:\n%s", want, p.html)
		}
	}
	if res.StatusCode != 250 || !strings.Contains(res.Request, "Message-ID <opshub.dlv_000000000042@example.com>") {
		t.Errorf("result %+v", res)
	}
}

func TestResolveRepliesToTheFiringMessage(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{})
	n := notifier(t, `{to: [ops@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`", requireTLS: false}`)
	res, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crash()})
	if err != nil {
		t.Fatal(err)
	}
	ev := crash()
	ev.Status, ev.Summary = model.StatusResolved, "web-7f9c-2 is running again"
	if _, err := n.Notify(context.Background(), notify.Message{ID: "dlv_2", Event: ev, Ref: res.Ref}); err != nil {
		t.Fatal(err)
	}
	ms := srv.WaitMessages(t, 2, 10*time.Second)
	fire, resolve := parse(t, ms[0]), parse(t, ms[1])
	if s := resolve.header.Get("Subject"); s != "[RESOLVED] container.crash demo/web web-7f9c-2" {
		t.Errorf("Subject %q", s)
	}
	id := fire.header.Get("Message-Id")
	if resolve.header.Get("In-Reply-To") != id || resolve.header.Get("References") != id {
		t.Errorf("resolve In-Reply-To %q References %q, want the firing message's %q", resolve.header.Get("In-Reply-To"), resolve.header.Get("References"), id)
	}
	if strings.Contains(resolve.text, "Last log lines") {
		t.Errorf("a resolve repeats the crash's lines:\n%s", resolve.text)
	}
}

func TestSpendMessageShowsAmountsAndSubjectOverride(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{})
	n := notifier(t, `{to: [billing@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`", requireTLS: false,
  headers: {Subject: "opshub billing: {{.Summary}}", X-Team: finance}}`)
	ev := model.Event{Name: model.EventSpendForecast, Status: model.StatusFiring, Severity: model.SeverityInfo, Project: "demo",
		Time:    time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC),
		Summary: "demo is forecast to reach 500.00 USD this month",
		Data:    map[string]any{"amount": 500.0, "forecast": 612.4, "forecastLinear": 580.0, "monthToDate": 140.25, "month": "2026-12", "currency": "USD"}}
	if _, err := n.Notify(context.Background(), notify.Message{ID: "dlv_9", Event: ev}); err != nil {
		t.Fatal(err)
	}
	p := parse(t, srv.WaitMessages(t, 1, 10*time.Second)[0])
	if s := p.header.Get("Subject"); s != "opshub billing: demo is forecast to reach 500.00 USD this month" {
		t.Errorf("Subject %q", s)
	}
	if p.header.Get("X-Team") != "finance" {
		t.Errorf("X-Team %q", p.header.Get("X-Team"))
	}
	for _, want := range []string{"amount          500.00 USD", "forecast        612.40 USD", "monthToDate     140.25 USD", "month           2026-12"} {
		if !strings.Contains(p.text, want) {
			t.Errorf("text part lacks %q:\n%s", want, p.text)
		}
	}
}

func TestSTARTTLSWithTestCAAndAuth(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{TLS: true, Users: map[string]string{"opshub": "hunter2-smtp"}})
	pass := filepath.Join(t.TempDir(), "smtp.pass")
	if err := os.WriteFile(pass, []byte("hunter2-smtp\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := `to: [ops@example.com], from: opshub@example.com, smarthost: "` + srv.Addr + `", tls: {caFile: ` + srv.CAFile + `}`
	n := notifier(t, `{`+base+`, auth: {username: opshub, passwordFile: `+pass+`}}`)
	if _, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crash()}); err != nil {
		t.Fatalf("Notify with STARTTLS and AUTH: %v", err)
	}
	got := srv.WaitMessages(t, 1, 10*time.Second)[0]
	if !got.TLS || got.User != "opshub" {
		t.Errorf("session tls %v user %q, want STARTTLS and AUTH as opshub", got.TLS, got.User)
	}

	t.Run("CRAM-MD5", func(t *testing.T) {
		n := notifier(t, `{`+base+`, auth: {username: opshub, secret: hunter2-smtp}}`)
		if _, err := n.Notify(context.Background(), notify.Message{ID: "dlv_2", Event: crash()}); err != nil {
			t.Fatalf("Notify with CRAM-MD5: %v", err)
		}
		if got := srv.WaitMessages(t, 2, 10*time.Second)[1]; got.User != "opshub" {
			t.Errorf("user %q", got.User)
		}
	})
	t.Run("wrong password is permanent and not shown", func(t *testing.T) {
		n := notifier(t, `{`+base+`, auth: {username: opshub, password: wrong-pass-123}}`)
		res, err := n.Notify(context.Background(), notify.Message{ID: "dlv_3", Event: crash()})
		var re *notify.RetryableError
		if err == nil || errors.As(err, &re) {
			t.Fatalf("a refused login gave %v, want a permanent failure", err)
		}
		for _, s := range []string{err.Error(), res.Request, res.Response} {
			if strings.Contains(s, "wrong-pass-123") {
				t.Errorf("the password shows in %q", s)
			}
		}
	})
	t.Run("unknown CA is refused", func(t *testing.T) {
		n := notifier(t, `{to: [ops@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`", auth: {username: opshub, password: hunter2-smtp}}`)
		if _, err := n.Notify(context.Background(), notify.Message{ID: "dlv_4", Event: crash()}); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("a server certificate from an unknown CA gave %v", err)
		}
	})
	srv.WaitMessages(t, 2, time.Second)
}

func TestRequireTLSRefusesAServerWithoutSTARTTLS(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{})
	n := notifier(t, `{to: [ops@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`"}`)
	_, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crash()})
	var re *notify.RetryableError
	if err == nil || errors.As(err, &re) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("requireTLS (the default) against a server without STARTTLS gave %v, want a permanent failure", err)
	}
	if srv.DataCommands(t) != 0 {
		t.Error("the message was sent in the clear")
	}
}

func TestReplies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      sinktest.SMTPOptions
		retryable bool
		code      int
	}{
		{"451 is retried", sinktest.SMTPOptions{FailFirst: 1}, true, 451},
		{"550 is permanent", sinktest.SMTPOptions{Reject: "550 5.1.1 mailbox unavailable"}, false, 550},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := sinktest.StartSMTP(t, tc.opts)
			n := notifier(t, `{to: [ops@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`", requireTLS: false}`)
			res, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crash()})
			var re *notify.RetryableError
			if err == nil || errors.As(err, &re) != tc.retryable || res.StatusCode != tc.code {
				t.Fatalf("got %v (status %d), want retryable=%v with %d", err, res.StatusCode, tc.retryable, tc.code)
			}
		})
	}
	t.Run("server down is retried", func(t *testing.T) {
		n := notifier(t, `{to: [ops@example.com], from: opshub@example.com, smarthost: "`+sinktest.FreeAddr(t)+`", requireTLS: false, timeout: 2s}`)
		_, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crash()})
		var re *notify.RetryableError
		if !errors.As(err, &re) {
			t.Fatalf("connection refused gave %v, want retryable", err)
		}
	})
}

func TestValidate(t *testing.T) {
	err := plugintest.DecodeErr(email.Plugin.Settings(), `{to: [not an address], smarthost: "smtp.example.com", auth: {password: x},
  headers: {Subject: "{{.Name", From: x@example.com}}`)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"to: entry 1", "from: is required", "smarthost: must be host:port", "auth.username: is required",
		"headers.Subject:", "headers.From: cannot be set here (set from instead)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	c := plugintest.Decode(t, email.Plugin.Settings(), `{to: [a@example.com], from: b@example.com, smarthost: "smtp.example.com:587"}`).(*email.Config)
	if !c.RequireTLS {
		t.Error("requireTLS is not true by default")
	}
}

func TestClientCertificate(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{TLS: true, ClientCerts: true})
	cert, key := srv.CA.Client("opshub")
	base := `to: [ops@example.com], from: opshub@example.com, smarthost: "` + srv.Addr + `"`
	without := notifier(t, `{`+base+`, tls: {caFile: `+srv.CAFile+`}}`)
	if _, err := without.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crash()}); err == nil {
		t.Fatal("a server that asks for a client certificate took a session without one")
	}
	with := notifier(t, `{`+base+`, tls: {caFile: `+srv.CAFile+`, certFile: `+cert+`, keyFile: `+key+`, serverName: localhost}}`)
	if _, err := with.Notify(context.Background(), notify.Message{ID: "dlv_2", Event: crash()}); err != nil {
		t.Fatalf("Notify with a client certificate: %v", err)
	}
	if got := srv.WaitMessages(t, 1, 10*time.Second)[0]; !got.TLS {
		t.Error("session was not encrypted")
	}
}

func TestImplicitTLS(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{ImplicitTLS: true, Users: map[string]string{"opshub": "pw-465"}})
	n := notifier(t, `{to: [ops@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`", tls: {caFile: `+srv.CAFile+`}, auth: {username: opshub, password: pw-465}}`)
	// The test server cannot bind port 465, which is what turns this on.
	email.SpeakImplicitTLS(n)
	if _, err := n.Notify(context.Background(), notify.Message{ID: "dlv_1", Event: crash()}); err != nil {
		t.Fatalf("Notify over implicit TLS: %v", err)
	}
	if got := srv.WaitMessages(t, 1, 10*time.Second)[0]; !got.TLS || got.User != "opshub" {
		t.Errorf("session tls %v user %q", got.TLS, got.User)
	}
}
