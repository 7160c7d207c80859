package alerting

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/opshub/opshub/internal/sinktest"
)

// TestThrottleWhenTheClockStepsBack: the throttle keeps, per resource, when
// the last notification went out, by the wall clock (it survives restarts).
// When the clock steps back an hour, that time lies in the future: the
// next event in the window is still throttled (no second message), and the
// window ends one window after the step, not an hour later. When the clock
// steps forward again, one message goes out, not more.
func TestThrottleWhenTheClockStepsBack(t *testing.T) {
	rcv := &sinktest.HookReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	clock := sinktest.NewFakeClock(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	p, err := New(Options{Store: openStore(t, t.TempDir()), Rules: testRules(10 * time.Minute), Now: clock.Now, Integrations: []Integration{
		{Name: "hook", Type: "webhook", Notifier: webhookNotifier(t, "hook", srv.URL, "")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	outcomes := func() (routed, throttled float64) {
		return testutil.ToFloat64(p.metrics.events.WithLabelValues(outcomeRouted)), testutil.ToFloat64(p.metrics.events.WithLabelValues(outcomeThrottled))
	}
	publish := func(wantRouted, wantThrottled float64) {
		t.Helper()
		p.Publish(crashLoopEvent("web-1"))
		sinktest.WaitFor(t, 5*time.Second, "the event processed", func() bool {
			r, th := outcomes()
			return r+th == wantRouted+wantThrottled
		})
		if r, th := outcomes(); r != wantRouted || th != wantThrottled {
			t.Fatalf("at %s: %v routed, %v throttled; want %v and %v", clock.Now().Format(time.TimeOnly), r, th, wantRouted, wantThrottled)
		}
	}

	publish(1, 0)
	clock.Advance(-time.Hour) // the clock steps back
	publish(1, 1)             // still within the window: no second message
	clock.Advance(5 * time.Minute)
	publish(1, 2)
	clock.Advance(5*time.Minute + time.Second) // one window after the step
	publish(2, 2)
	clock.Advance(time.Hour) // and forward again
	publish(3, 2)
	publish(3, 3)
	sinktest.WaitFor(t, 5*time.Second, "three messages", func() bool { return len(rcv.Requests()) == 3 })
}
