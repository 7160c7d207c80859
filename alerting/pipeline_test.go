package alerting

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/alerting/notify/webhook"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

func webhookNotifier(t testing.TB, name, url, secret string) notify.Notifier {
	t.Helper()
	raw := map[string]string{"url": url, "secret": secret}
	n, err := webhook.New(notify.Spec{Name: name, Type: webhook.Type, Settings: plugintest.Decode(t, webhook.Plugin.Settings(), yamlNode(t, raw))})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func openStore(t testing.TB, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// runPipeline starts p and stops it at the end of the test.
func runPipeline(t testing.TB, p *Pipeline) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func testRules(throttle time.Duration) Rules {
	return Rules{
		Throttle:  map[string]time.Duration{ThrottleDefault: throttle},
		CrashLoop: CrashLoop{Restarts: 2, Window: 10 * time.Minute},
	}
}

func crashLoopEvent(instance string) model.Event {
	return model.Event{Name: model.EventContainerCrashLoop, Status: model.StatusFiring, Severity: model.SeverityCritical,
		Project: "demo", Service: "web", Instance: instance, Summary: instance + " restarted 2 times in 10m"}
}

func TestWebhookDeliveryIsSignedAndThrottled(t *testing.T) {
	rcv := &sinktest.HookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	db := openStore(t, t.TempDir())
	p, err := New(Options{Store: db, Rules: testRules(time.Hour), Integrations: []Integration{
		{Name: "hook", Type: "webhook", Notifier: webhookNotifier(t, "hook", srv.URL, "s3cret")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)

	p.Publish(crashLoopEvent("web-1"))
	p.Publish(crashLoopEvent("web-1")) // same resource, same window: throttled
	p.Publish(crashLoopEvent("web-2")) // another resource: its own window
	sinktest.WaitFor(t, 5*time.Second, "two deliveries", func() bool { return len(rcv.Requests()) == 2 })

	ids := map[string]bool{}
	for _, r := range rcv.Requests() {
		if !webhook.Verify([]byte("s3cret"), r.ID, r.Timestamp, r.Body, r.Signature) {
			t.Errorf("signature %q does not verify for %s", r.Signature, r.ID)
		}
		if r.Event.Name != model.EventContainerCrashLoop || r.Event.Status != model.StatusFiring || r.Event.ID == "" {
			t.Errorf("body %s is not the firing event", r.Body)
		}
		ids[r.ID] = true
	}
	if len(ids) != 2 {
		t.Errorf("webhook-ids %v are not distinct", ids)
	}
	sinktest.WaitFor(t, 5*time.Second, "deliveries marked delivered", func() bool {
		ds, _ := p.Deliveries()
		return len(ds) == 2 && ds[0].State == DeliveryDelivered && ds[1].State == DeliveryDelivered
	})

	// Resolving web-1 sends one resolved message; resolving an alert that
	// never fired sends nothing.
	res := crashLoopEvent("web-1")
	res.Status = model.StatusResolved
	p.Publish(res)
	unknown := crashLoopEvent("web-9")
	unknown.Status = model.StatusResolved
	p.Publish(unknown)
	sinktest.WaitFor(t, 5*time.Second, "the resolved message", func() bool { return len(rcv.Requests()) == 3 })
	if got := rcv.Requests()[2].Event; got.Status != model.StatusResolved || got.Instance != "web-1" {
		t.Errorf("third message is %+v, want web-1 resolved", got)
	}
	alerts, _ := p.Alerts()
	if len(alerts) != 2 || alerts[0].Instance != "web-2" || alerts[0].Status != model.StatusFiring || alerts[1].Status != model.StatusResolved {
		t.Errorf("alerts = %+v, want web-2 firing then web-1 resolved", alerts)
	}
}

func TestThrottleSurvivesRestart(t *testing.T) {
	rcv := &sinktest.HookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	dir := t.TempDir()
	run := func() {
		db, err := store.Open(filepath.Join(dir, "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		p, err := New(Options{Store: db, Rules: testRules(time.Hour), Integrations: []Integration{
			{Name: "hook", Type: "webhook", Notifier: webhookNotifier(t, "hook", srv.URL, "")},
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		var before time.Time
		if as, _ := p.Alerts(); len(as) == 1 {
			before = as[0].Updated
		}
		p.Publish(crashLoopEvent("web-1"))
		sinktest.WaitFor(t, 5*time.Second, "the event to be recorded", func() bool {
			as, _ := p.Alerts()
			return len(as) == 1 && as[0].Updated.After(before)
		})
		// Give a wrongly unthrottled message every chance to go out.
		sinktest.WaitFor(t, 5*time.Second, "an empty outbox", func() bool {
			ds, _ := p.Deliveries()
			for _, d := range ds {
				if d.State == DeliveryPending {
					return false
				}
			}
			return true
		})
		cancel()
		<-done
	}
	run()
	run()
	if n := len(rcv.Requests()); n != 1 {
		t.Fatalf("receiver got %d messages across a restart within one throttle window, want 1", n)
	}
}
