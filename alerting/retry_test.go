package alerting

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// An integration's own give-up time ends its retries; another integration
// with the pipeline's policy keeps retrying the same event.
func TestIntegrationGiveUpTimeTakesEffect(t *testing.T) {
	down := &sinktest.HookReceiver{Status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(down)
	defer srv.Close()
	p, err := New(Options{Store: openStore(t, t.TempDir()), Rules: testRules(0),
		Retry: RetryPolicy{Initial: 20 * time.Millisecond, Max: 40 * time.Millisecond},
		Integrations: []Integration{
			{Name: "impatient", Type: "webhook", Notifier: webhookNotifier(t, "impatient", srv.URL+"/a", "k"),
				Retry: RetryPolicy{GiveUpAfter: 300 * time.Millisecond, DisableAfter: 3}},
			{Name: "patient", Type: "webhook", Notifier: webhookNotifier(t, "patient", srv.URL+"/b", "k")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	p.Publish(crashLoopEvent("web-1"))

	byIntegration := func() map[string]Delivery {
		ds, _ := p.Deliveries()
		out := map[string]Delivery{}
		for _, d := range ds {
			out[d.Integration] = d
		}
		return out
	}
	sinktest.WaitFor(t, 10*time.Second, "the impatient integration to give up", func() bool {
		return byIntegration()["impatient"].State == DeliveryFailed
	})
	got := byIntegration()
	d := got["impatient"]
	if !strings.Contains(d.LastError, "gave up 300ms after it was queued") || d.LastStatus != http.StatusServiceUnavailable {
		t.Errorf("impatient delivery: %+v, want it given up after 300ms with the last answer 503", d)
	}
	if d.Attempts < 2 {
		t.Errorf("impatient delivery made %d attempts, want it retried before giving up", d.Attempts)
	}
	if patient := got["patient"]; patient.State != DeliveryPending || patient.Attempts < 2 {
		t.Errorf("patient delivery: %+v, want it still retrying under the 24h default", patient)
	}
	// One failure in a row is below the integration's disableAfter.
	st, _ := p.Integrations()
	for _, s := range st {
		if s.State != IntegrationActive {
			t.Errorf("integration %s is %s after one given-up delivery", s.Name, s.State)
		}
	}
}

func TestRetryPolicyOverrides(t *testing.T) {
	base := RetryPolicy{Initial: time.Second, Max: time.Minute, GiveUpAfter: time.Hour, DisableAfter: 5}
	got := RetryPolicy{GiveUpAfter: 10 * time.Minute, Initial: 2 * time.Minute}.over(base)
	want := RetryPolicy{Initial: 2 * time.Minute, Max: 2 * time.Minute, GiveUpAfter: 10 * time.Minute, DisableAfter: 5}
	if got != want {
		t.Errorf("override = %+v, want %+v (max raised to the initial back-off)", got, want)
	}
}
