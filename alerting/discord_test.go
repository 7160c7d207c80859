package alerting

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/alerting/notify/discord"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func discordPipeline(t *testing.T, url string, groupWait time.Duration) *Pipeline {
	t.Helper()
	n, err := discord.New(notify.Spec{Name: "chat", Type: discord.Type, Settings: plugintest.Decode(t, discord.Plugin.Settings(), map[string]string{"webhookURL": url})})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Store: openStore(t, t.TempDir()), Rules: testRules(0),
		Retry:        RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		GroupWait:    groupWait,
		Integrations: []Integration{{Name: "chat", Type: discord.Type, Notifier: n}}})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	return p
}

func TestDiscordRetryAfterIsHonoured(t *testing.T) {
	standIn := &discordStandIn{answer: func(n int) (int, float64) {
		if n == 0 {
			return http.StatusTooManyRequests, 1.5
		}
		return 0, 0
	}}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	p := discordPipeline(t, srv.URL+"/api/webhooks/1/tok", -1)

	p.Publish(crashLoopEvent("web-1"))
	sinktest.WaitFor(t, 10*time.Second, "a second attempt", func() bool { return len(standIn.times()) >= 2 })
	at := standIn.times()
	if gap := at[1].Sub(at[0]); gap < 1500*time.Millisecond {
		t.Fatalf("second attempt came %s after the 429, want at least 1.5s (the back-off alone is 10ms)", gap)
	}
	sinktest.WaitFor(t, 5*time.Second, "the delivery to be recorded", func() bool {
		ds, _ := p.Deliveries()
		return len(ds) == 1 && ds[0].State == DeliveryDelivered
	})
	ds, _ := p.Deliveries()
	if ds[0].Attempts != 2 || ds[0].LastStatus != http.StatusOK {
		t.Errorf("delivery = %+v, want 2 attempts ending in 200", ds[0])
	}
}

func TestDiscordDeletedWebhookDisablesIntegration(t *testing.T) {
	standIn := &discordStandIn{answer: func(int) (int, float64) { return http.StatusNotFound, 0 }}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	p := discordPipeline(t, srv.URL+"/api/webhooks/1/tok", -1)

	p.Publish(crashLoopEvent("web-1"))
	sinktest.WaitFor(t, 5*time.Second, "the integration to be disabled", func() bool {
		st, _ := p.Integrations()
		return len(st) == 1 && st[0].State == IntegrationDisabled
	})
	st, _ := p.Integrations()
	if !strings.Contains(st[0].Reason, "404") {
		t.Errorf("reason %q does not say the webhook answered 404", st[0].Reason)
	}
	// Later events are recorded as skipped, not sent.
	p.Publish(crashLoopEvent("web-2"))
	sinktest.WaitFor(t, 5*time.Second, "the second delivery to be skipped", func() bool {
		ds, _ := p.Deliveries()
		return len(ds) == 2 && ds[0].State == DeliverySkipped
	})
	if n := len(standIn.times()); n != 1 {
		t.Errorf("stand-in saw %d requests, want 1 (nothing after the 404)", n)
	}
}

func TestDiscordMessagesStayWithinLimits(t *testing.T) {
	standIn := &discordStandIn{}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	p := discordPipeline(t, srv.URL+"/api/webhooks/1/tok", -1)

	long := strings.Repeat("ü", 3000)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("%d %s", i, strings.Repeat("x", 400)))
	}
	data := map[string]any{"lastLines": lines, "exitCode": 1}
	for i := range 30 {
		data[fmt.Sprintf("key%02d", i)] = long
	}
	ev := model.Event{Name: model.EventContainerCrash, Severity: model.SeverityWarning, Project: strings.Repeat("p", 300),
		Service: "web", Instance: "web-1", Summary: long, Data: data}
	p.Publish(ev)
	sinktest.WaitFor(t, 5*time.Second, "the delivery to finish", func() bool {
		ds, _ := p.Deliveries()
		return len(ds) == 1 && ds[0].State != DeliveryPending
	})
	ds, _ := p.Deliveries()
	if ds[0].State != DeliveryDelivered {
		t.Fatalf("delivery %s: %s (stand-in rejections: %v)", ds[0].State, ds[0].LastError, standIn.rejections)
	}
}

func TestDiscordGroupsABurstIntoOneMessage(t *testing.T) {
	standIn := &discordStandIn{}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	p := discordPipeline(t, srv.URL+"/api/webhooks/1/tok", time.Second)

	// Twelve instances crash at once, each with long last lines: the first
	// ten share one message within Discord's limits, the other two the next.
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("%d %s", i, strings.Repeat("y", 300)))
	}
	for i := range 12 {
		ev := crashLoopEvent(fmt.Sprintf("web-%d", i))
		ev.Data = map[string]any{"lastLines": lines}
		p.Publish(ev)
	}
	sinktest.WaitFor(t, 10*time.Second, "every delivery to finish", func() bool {
		ds, _ := p.Deliveries()
		if len(ds) != 12 {
			return false
		}
		for _, d := range ds {
			if d.State == DeliveryPending {
				return false
			}
		}
		return true
	})
	ds, _ := p.Deliveries()
	for _, d := range ds {
		if d.State != DeliveryDelivered {
			t.Fatalf("delivery %s %s: %s (stand-in rejections %v)", d.ID, d.State, d.LastError, standIn.rejections)
		}
	}
	if n := len(standIn.times()); n != 2 {
		t.Errorf("stand-in got %d messages for a burst of 12, want 2 (10 embeds, then 2)", n)
	}
}
