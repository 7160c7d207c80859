package app_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opshub/opshub/alerting/notify/webhook"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// hookVerified reports whether a webhook request carries the signature of
// the integrations' secret "hook-secret".
func hookVerified(r sinktest.HookRequest) bool {
	return webhook.Verify([]byte("hook-secret"), r.ID, r.Timestamp, r.Body, r.Signature)
}

// crashyConfig is the start of a config whose one service, demo/crashy,
// exits with 1 after 50 ms, again and again; callers add their sections.
func crashyConfig(t *testing.T, demo string) string {
	return fmt.Sprintf(`
dataDir: %s
workloads:
  - name: crashy
    project: demo
    command: [%s, --no-http, --exit-after, 50ms, --exit-code, "1"]
`, t.TempDir(), demo)
}

// TestCrashLoopNotification runs opshub with a crash-looping demo service and
// a webhook integration: the receiver gets one signed container.crashloop
// notification within 2 s of the restart that crossed the threshold, and no
// second one for the restarts that follow within the throttle window.
func TestCrashLoopNotification(t *testing.T) {
	demo := demoBinary(t)
	rcv := &sinktest.HookReceiver{}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	cfgText := crashyConfig(t, demo) + fmt.Sprintf(`notifications:
  integrations:
    - {name: hook, type: webhook, url: %q, secret: hook-secret, events: [container.crashloop]}
alerts:
  throttle: {default: 15m}
  crashLoop: {restarts: 1, window: 10m}
`, hook.URL+"/hook")
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := app.InactiveSections(cfg); len(got) != 0 {
		t.Errorf("inactive sections %v, want notifications to run", got)
	}
	api := startRun(t, cfg, app.Options{}).API

	sinktest.WaitFor(t, 30*time.Second, "the crashloop notification", func() bool { return len(rcv.Requests()) >= 1 })
	first := rcv.Requests()[0]
	if first.Event.Name != model.EventContainerCrashLoop || first.Event.Status != model.StatusFiring || first.Event.Service != "crashy" {
		t.Fatalf("first notification is %+v", first.Event)
	}
	if !hookVerified(first) {
		t.Error("the signature does not verify with the configured secret")
	}
	if lag := first.At.Sub(first.Event.Time); lag > 2*time.Second {
		t.Errorf("notification arrived %s after the restart that crossed the threshold, want at most 2s", lag)
	}

	// The next restart (after the 10 s back-off) is in the same throttle
	// window: it must not bring a second notification.
	var services struct{ Services []model.Service }
	sinktest.WaitFor(t, 60*time.Second, "a second restart", func() bool {
		if _, err := getJSON(api+"/api/v1/services", &services); err != nil || len(services.Services) != 1 {
			return false
		}
		ins := services.Services[0].Instances
		return len(ins) == 1 && ins[0].Restarts >= 2
	})
	var alerts struct{ Alerts []map[string]any }
	sinktest.WaitFor(t, 5*time.Second, "the crash loop in /api/v1/alerts", func() bool {
		_, err := getJSON(api+"/api/v1/alerts", &alerts)
		if err != nil {
			return false
		}
		for _, a := range alerts.Alerts {
			if a["event"] == model.EventContainerCrashLoop && a["status"] == model.StatusFiring && a["service"] == "crashy" {
				return true
			}
		}
		return false
	})
	var deliveries struct{ Deliveries []map[string]any }
	sinktest.WaitFor(t, 5*time.Second, "no pending deliveries", func() bool {
		if _, err := getJSON(api+"/api/v1/deliveries", &deliveries); err != nil {
			return false
		}
		for _, d := range deliveries.Deliveries {
			if d["state"] == "pending" {
				return false
			}
		}
		return true
	})
	if n := len(rcv.Requests()); n != 1 {
		t.Errorf("receiver got %d notifications within one throttle window, want 1", n)
	}
}
