package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestCrashNotificationsOnOneMachine runs opshub with a service that exits
// with code 1 and three integrations: a webhook for crashes, whose event
// carries the last lines the crashed run wrote (read through the log API's
// reader); a Discord webhook that was deleted (404), which is disabled and
// shown so in what `opshub status` reads; and a webhook that is down, whose
// own retry.giveUpAfter of 1s ends its retries.
func TestCrashNotificationsOnOneMachine(t *testing.T) {
	demo := demoBinary(t)
	rcv := &sinktest.HookReceiver{}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	var discordCalls atomic.Int32
	discord := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		discordCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message": "Unknown Webhook", "code": 10015}`)
	}))
	defer discord.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfgText := crashyConfig(t, demo) + fmt.Sprintf(`notifications:
  retry: {initialBackoff: 100ms, maxBackoff: 1s}
  integrations:
    - {name: hook, type: webhook, url: %q, secret: hook-secret, events: [container.crash]}
    - {name: chat, type: discord, webhookURL: %q, events: [container.crashloop]}
    - {name: impatient, type: webhook, url: %q, events: [container.crash], retry: {giveUpAfter: 1s}}
alerts:
  throttle: {default: 15m}
  crashLoop: {restarts: 1, window: 10m}
`, hook.URL+"/hook", discord.URL+"/api/webhooks/1/tok", down.URL)
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := startRun(t, cfg, app.Options{}).API

	sinktest.WaitFor(t, 30*time.Second, "the crash notification", func() bool { return len(rcv.Requests()) >= 1 })
	crash := rcv.Requests()[0]
	if crash.Event.Name != model.EventContainerCrash || !hookVerified(crash) {
		t.Fatalf("first notification %+v (signature verified: %t)", crash.Event, hookVerified(crash))
	}
	lines, _ := crash.Event.Data["lastLines"].([]any)
	if len(lines) == 0 || !strings.Contains(fmt.Sprint(lines[len(lines)-1]), "exiting with code 1") {
		t.Errorf("crash event's last lines %v, want the demo's last words \"exiting with code 1\" (data %v)", lines, crash.Event.Data)
	}
	if lag := crash.At.Sub(crash.Event.Time); lag > 2*time.Second {
		t.Errorf("crash notification arrived %s after the exit, want at most 2s", lag)
	}

	c, err := client.New(api, "")
	if err != nil {
		t.Fatal(err)
	}
	var chat client.Integration
	sinktest.WaitFor(t, 30*time.Second, "the Discord integration to be disabled", func() bool {
		_, ints, err := c.Deliveries(context.Background())
		if err != nil {
			return false
		}
		for _, in := range ints {
			if in.Name == "chat" {
				chat = in
			}
		}
		return chat.State == "disabled"
	})
	if !strings.Contains(chat.Reason, "404") {
		t.Errorf("disabled for %q, want the reason to name the 404", chat.Reason)
	}
	if n := discordCalls.Load(); n != 1 {
		t.Errorf("the deleted Discord webhook was called %d times, want once", n)
	}

	var given client.Delivery
	sinktest.WaitFor(t, 30*time.Second, "the impatient integration to give up", func() bool {
		ds, _, err := c.Deliveries(context.Background())
		if err != nil {
			return false
		}
		for _, d := range ds {
			if d.Integration == "impatient" && d.State == "failed" {
				given = d
				return true
			}
		}
		return false
	})
	if !strings.Contains(given.LastError, "gave up 1s after it was queued") || given.Attempts < 2 || given.LastStatus != http.StatusServiceUnavailable {
		t.Errorf("impatient delivery %+v, want it retried (100ms back-off) and given up after 1s", given)
	}
}
