package alerting

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/alerting/notify"
	"github.com/opshub/opshub/alerting/notify/teams"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// teamsPipeline runs a pipeline with one Teams integration paced as
// opshub paces it (4 messages a second).
func teamsPipeline(t *testing.T, url string, groupWait time.Duration) *Pipeline {
	t.Helper()
	n, err := teams.New(notify.Spec{Name: "ops-teams", Type: teams.Type, Settings: plugintest.Decode(t, teams.Plugin.Settings(), map[string]string{"webhookURL": url})})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{Store: openStore(t, t.TempDir()), Rules: testRules(0),
		Retry:     RetryPolicy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
		GroupWait: groupWait,
		Integrations: []Integration{{Name: "ops-teams", Type: teams.Type, Notifier: n,
			MinInterval: time.Second / teams.RequestsPerSecond}}})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	return p
}

func allFinished(p *Pipeline, n int) func() bool {
	return func() bool {
		ds, _ := p.Deliveries()
		if len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.State == DeliveryPending {
				return false
			}
		}
		return true
	}
}

// Eight events of different kinds (which cannot share a card) reach Teams
// without a single 429: the worker keeps to Teams' 4 requests a second.
func TestTeamsPacingAvoidsThrottling(t *testing.T) {
	standIn := &teamsStandIn{}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	p := teamsPipeline(t, srv.URL+"/workflows/1/triggers/manual/paths/invoke", -1)
	for _, name := range []string{model.EventContainerCrash, model.EventContainerOOM, model.EventContainerCrashLoop, model.EventContainerEviction,
		model.EventContainerCPUSpike, model.EventContainerMemorySpike, model.EventVolumeUsage, model.EventProbeFailing} {
		ev := crashLoopEvent("web-1")
		ev.Name = name
		p.Publish(ev)
	}
	sinktest.WaitFor(t, 15*time.Second, "every delivery to finish", allFinished(p, 8))
	if len(standIn.rejected()) > 0 || len(standIn.cards()) != 8 {
		t.Errorf("stand-in accepted %d cards and rejected %v, want 8 accepted", len(standIn.cards()), standIn.rejected())
	}
}

// A burst with long last lines goes out as few cards, each within 28 KB.
func TestTeamsGroupsABurstWithin28KB(t *testing.T) {
	standIn := &teamsStandIn{}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	p := teamsPipeline(t, srv.URL, time.Second)
	var lines []string
	for i := range 20 {
		lines = append(lines, fmt.Sprintf("%d %s", i, strings.Repeat("y", 500)))
	}
	for i := range 12 {
		ev := model.Event{Name: model.EventContainerCrash, Status: model.StatusFiring, Severity: model.SeverityWarning,
			Project: "demo", Service: "web", Instance: fmt.Sprintf("web-%d", i), Summary: "exited with exit code 1",
			Data: map[string]any{"lastLines": lines, "exitCode": 1}}
		p.Publish(ev)
	}
	sinktest.WaitFor(t, 15*time.Second, "every delivery to finish", allFinished(p, 12))
	ds, _ := p.Deliveries()
	for _, d := range ds {
		if d.State != DeliveryDelivered {
			t.Fatalf("delivery %s %s: %s (stand-in rejections %v)", d.ID, d.State, d.LastError, standIn.rejected())
		}
	}
	if n := len(standIn.cards()); n != 2 {
		t.Errorf("stand-in got %d cards for a burst of 12, want 2 (10, then 2)", n)
	}
	if title := standIn.cards()[0].Body[0].Text; !strings.HasPrefix(title, "[FIRING] 10 × container.crash") {
		t.Errorf("first card's title %q", title)
	}
}

// Teams' 429 is retried no sooner than its Retry-After; a resolved alert is
// a card of its own, in green.
func TestTeamsRetryAfterAndResolve(t *testing.T) {
	standIn := &teamsStandIn{answer: func(n int) (int, string) {
		if n == 0 {
			return http.StatusTooManyRequests, "1"
		}
		return 0, ""
	}}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	p := teamsPipeline(t, srv.URL, -1)
	ev := crashLoopEvent("web-1")
	p.Publish(ev)
	sinktest.WaitFor(t, 10*time.Second, "the firing card", func() bool { return len(standIn.cards()) == 1 })
	at := standIn.times()
	if gap := at[1].Sub(at[0]); gap < time.Second {
		t.Errorf("second attempt came %s after the 429, want at least Retry-After's 1s", gap)
	}
	ev.Status = model.StatusResolved
	ev.Summary = "web-1 has not restarted for 10m"
	p.Publish(ev)
	sinktest.WaitFor(t, 10*time.Second, "the resolved card", func() bool { return len(standIn.cards()) == 2 })
	title := standIn.cards()[1].Body[0]
	if !strings.HasPrefix(title.Text, "[RESOLVED] container.crashloop demo/web") || title.Color != "Good" {
		t.Errorf("resolved card's title %+v", title)
	}
}

func TestTeamsDeletedWorkflowDisablesIntegration(t *testing.T) {
	standIn := &teamsStandIn{answer: func(int) (int, string) { return http.StatusNotFound, "" }}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	p := teamsPipeline(t, srv.URL, -1)
	p.Publish(crashLoopEvent("web-1"))
	sinktest.WaitFor(t, 5*time.Second, "the integration to be disabled", func() bool {
		st, _ := p.Integrations()
		return len(st) == 1 && st[0].State == IntegrationDisabled
	})
	if st, _ := p.Integrations(); !strings.Contains(st[0].Reason, "404") {
		t.Errorf("reason %q does not say Teams answered 404", st[0].Reason)
	}
}
