package alerting

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/opshub/opshub/store"
)

// BenchmarkEventToWebhook measures the time from Publish to the webhook
// receiver's handler, through silences, throttle, routing, the durable
// outbox (one fsynced bbolt commit per event and per delivery) and the
// signed POST. It reports the p50 and p99 latency.
func BenchmarkEventToWebhook(b *testing.B) {
	arrived := make(chan time.Time, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- time.Now()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	db, err := store.Open(b.TempDir() + "/state.db")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p, err := New(Options{Store: db, Alerts: alertsConfig(0), Integrations: []Integration{
		{Name: "hook", Type: "webhook", Notifier: webhookNotifier(b, "hook", srv.URL, "secret")},
	}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		p.Publish(crashLoopEvent(fmt.Sprintf("web-%d", i)))
		select {
		case at := <-arrived:
			lat = append(lat, at.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatalf("event %d did not arrive within 10s", i)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
