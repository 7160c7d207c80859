package alerting

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/alerting/notify/email"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// The email integration through the outbox, against a real SMTP server:
// what a user sees in their inbox and in `opshub deliveries`.

func emailIntegration(t *testing.T, keys string) Integration {
	t.Helper()
	n, err := email.New(notify.Spec{Name: "billing", Type: email.Type, Settings: plugintest.Decode(t, email.Plugin.Settings(), keys)})
	if err != nil {
		t.Fatal(err)
	}
	return Integration{Name: "billing", Type: email.Type, Notifier: n}
}

// startEmailPipeline runs a pipeline on db until the returned stop is
// called (or the test ends).
func startEmailPipeline(t *testing.T, db *store.DB, in Integration, log *slog.Logger) (p *Pipeline, stop func()) {
	t.Helper()
	p, err := New(Options{Store: db, Rules: testRules(0), Logger: log,
		Retry:        RetryPolicy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond},
		Integrations: []Integration{in}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return p, stop
}

func onlyDelivery(t *testing.T, p *Pipeline, what string, cond func(Delivery) bool) Delivery {
	t.Helper()
	var d Delivery
	sinktest.WaitFor(t, 20*time.Second, what, func() bool {
		ds, _ := p.Deliveries()
		if len(ds) != 1 {
			return false
		}
		d = ds[0]
		return cond(d)
	})
	return d
}

func TestEmailTemporaryFailureIsRetriedAndArrivesOnce(t *testing.T) {
	const password = "pw-never-shown-7c1"
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{TLS: true, Users: map[string]string{"opshub": password}, FailFirst: 1})
	logs := &sinktest.LockedBuffer{}
	in := emailIntegration(t, `{to: [billing@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`",
  auth: {username: opshub, password: `+password+`}, tls: {caFile: `+srv.CAFile+`}}`)
	p, _ := startEmailPipeline(t, openStore(t, t.TempDir()), in, slog.New(slog.NewTextHandler(logs, nil)))

	p.Publish(crashLoopEvent("web-7f9c-2"))
	d := onlyDelivery(t, p, "the delivery after a 451", func(d Delivery) bool { return d.State == DeliveryDelivered })
	if d.Attempts != 2 || d.LastStatus != 250 {
		t.Errorf("delivery %+v, want delivered on the second attempt", d)
	}
	ms := srv.WaitMessages(t, 1, 5*time.Second)
	if n := srv.DataCommands(t); n != 2 {
		t.Errorf("the server answered %d DATA commands, want 2 (451, then accepted)", n)
	}
	if !strings.Contains(ms[0].Data, "Message-ID: <opshub."+d.ID+"@example.com>") {
		t.Errorf("message lacks the delivery's Message-ID:\n%s", ms[0].Data)
	}
	if !strings.Contains(logs.String(), "will retry") {
		t.Errorf("the 451 was not logged as retried:\n%s", logs.String())
	}
	api, _ := json.Marshal(d)
	if strings.Contains(logs.String(), password) || strings.Contains(string(api), password) {
		t.Errorf("the password shows in the logs or the delivery record:\n%s\n%s", logs.String(), api)
	}
}

func TestEmailPermanentFailureIsNotRetried(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{Reject: "550 5.1.1 <billing@example.com>: mailbox unavailable"})
	in := emailIntegration(t, `{to: [billing@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`", requireTLS: false}`)
	p, _ := startEmailPipeline(t, openStore(t, t.TempDir()), in, nil)

	p.Publish(crashLoopEvent("web-7f9c-2"))
	d := onlyDelivery(t, p, "the delivery to fail", func(d Delivery) bool { return d.State != DeliveryPending })
	if d.State != DeliveryFailed || d.Attempts != 1 || d.LastStatus != 550 || !strings.Contains(d.LastError, "mailbox unavailable") {
		t.Errorf("delivery %+v, want failed after one attempt with the 550", d)
	}
	if n := srv.DataCommands(t); n != 1 {
		t.Errorf("the server answered %d DATA commands, want 1", n)
	}
}

func TestEmailServerDownAcrossARestartArrivesOnce(t *testing.T) {
	addr := sinktest.FreeAddr(t)
	dir := t.TempDir()
	in := emailIntegration(t, `{to: [billing@example.com], from: opshub@example.com, smarthost: "`+addr+`", requireTLS: false, timeout: 2s}`)

	db := openStore(t, dir)
	p, stop := startEmailPipeline(t, db, in, nil)
	ev := crashLoopEvent("web-7f9c-2")
	ev.Data = map[string]any{"lastLines": []string{"panic: out of credits"}}
	p.Publish(ev)
	d := onlyDelivery(t, p, "a failed attempt while the server is down", func(d Delivery) bool { return d.Attempts >= 1 })
	if d.State != DeliveryPending || d.LastStatus != 0 {
		t.Fatalf("delivery %+v, want pending after a refused connection", d)
	}
	stop()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{Addr: addr})
	p, _ = startEmailPipeline(t, openStore(t, dir), in, nil)
	d = onlyDelivery(t, p, "the delivery once the server is up", func(d Delivery) bool { return d.State == DeliveryDelivered })
	ms := srv.WaitMessages(t, 1, 5*time.Second)
	if !strings.Contains(ms[0].Data, "panic: out of credits") || !strings.Contains(ms[0].Data, "Subject: [FIRING] "+model.EventContainerCrashLoop+" demo/web web-7f9c-2") {
		t.Errorf("message:\n%s", ms[0].Data)
	}
	if n := srv.DataCommands(t); n != 1 {
		t.Errorf("the server answered %d DATA commands, want 1", n)
	}
}

func TestEmailResolveIsThreadedUnderItsFiring(t *testing.T) {
	srv := sinktest.StartSMTP(t, sinktest.SMTPOptions{})
	in := emailIntegration(t, `{to: [billing@example.com], from: opshub@example.com, smarthost: "`+srv.Addr+`", requireTLS: false}`)
	p, _ := startEmailPipeline(t, openStore(t, t.TempDir()), in, nil)

	fire := crashLoopEvent("web-7f9c-2")
	p.Publish(fire)
	srv.WaitMessages(t, 1, 20*time.Second)
	resolve := fire
	resolve.Status, resolve.Summary = model.StatusResolved, "web-7f9c-2 has not restarted for 10m"
	p.Publish(resolve)
	ms := srv.WaitMessages(t, 2, 20*time.Second)
	id := header(ms[0].Data, "Message-ID")
	if id == "" || header(ms[1].Data, "In-Reply-To") != id || header(ms[1].Data, "References") != id {
		t.Errorf("resolve In-Reply-To %q References %q, want the firing message's %q", header(ms[1].Data, "In-Reply-To"), header(ms[1].Data, "References"), id)
	}
	if s := header(ms[1].Data, "Subject"); s != "[RESOLVED] container.crashloop demo/web web-7f9c-2" {
		t.Errorf("resolve Subject %q", s)
	}
}

// header is a header's value in a raw message.
func header(data, name string) string {
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		return ""
	}
	return msg.Header.Get(name)
}
