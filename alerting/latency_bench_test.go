package alerting

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// BenchmarkEventToWebhook measures the time from Publish to the webhook
// receiver's handler, through silences, throttle, routing, the durable
// outbox (one fsynced bbolt commit per event and per delivery) and the
// signed POST. It reports the p50 and p99 latency.
func BenchmarkEventToWebhook(b *testing.B) {
	benchToWebhook(b, Options{}, "event", func(p *Pipeline, i int, _ time.Time) {
		p.Publish(crashLoopEvent(fmt.Sprintf("web-%d", i)))
	})
}

// BenchmarkCrashToWebhook measures the time from a platform's exited
// instance event to the webhook receiver's handler for the container.crash
// it raises, including the read of the crashed run's last 20 lines through
// the log API's reader (collector.Reader over a CRI file of 1,000 lines)
// and the two store commits. It reports the p50 and p99 latency.
func BenchmarkCrashToWebhook(b *testing.B) {
	pods := b.TempDir()
	var lines []string
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf("request %d served in 3ms status=200 path=/api/v1/items", i))
	}
	exitAt := time.Now().Add(-time.Minute)
	writeCRI(b, filepath.Join(pods, "demo_web-1_0b1c", "web", "0.log"), exitAt.Add(-2*time.Second), lines)
	feed := make(instanceFeed, 1)
	opts := Options{Platform: feed,
		Logs: collector.LastLines{Reader: collector.NewReader(collector.ReaderOptions{Roots: []string{pods}})}}
	benchToWebhook(b, opts, "crash", func(_ *Pipeline, _ int, start time.Time) {
		feed <- model.InstanceEvent{Kind: model.InstanceExited, Ref: web1, Time: start, Exit: &model.Exit{Code: 1, Reason: "Error", Time: exitAt}}
	})
}

// benchToWebhook runs a pipeline built from opts with a store and one
// webhook integration, calls send b.N times and reports the p50 and p99 of
// the time from each call to the receiver's handler getting its
// notification.
func benchToWebhook(b *testing.B, opts Options, what string, send func(p *Pipeline, i int, start time.Time)) {
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
	opts.Store, opts.Rules = db, testRules(0)
	opts.Integrations = []Integration{
		{Name: "hook", Type: "webhook", Notifier: webhookNotifier(b, "hook", srv.URL, "secret")},
	}
	p, err := New(opts)
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
		send(p, i, start)
		select {
		case at := <-arrived:
			lat = append(lat, at.Sub(start))
		case <-time.After(10 * time.Second):
			b.Fatalf("%s %d did not arrive within 10s", what, i)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
