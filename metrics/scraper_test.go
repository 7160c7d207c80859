package metrics

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/opshub/opshub/model"
)

// countingSource counts reads and returns one container whose CPU counter
// grows by half a core.
type countingSource struct {
	mu    sync.Mutex
	times []time.Time
}

func (c *countingSource) Read(_ context.Context, now time.Time) ([]Reading, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.times = append(c.times, now)
	ref := model.Ref{Project: "p", Service: "s", Instance: "s-0", Container: "s"}
	return []Reading{{Ref: ref, Time: now, CPUSeconds: Known(0.5 * float64(len(c.times)) * 15)}}, nil
}

func (c *countingSource) reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.times)
}

func TestScraperRunsEveryIntervalUntilClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{}
		store := NewStore(time.Hour, 15*time.Second)
		reg := prometheus.NewRegistry()
		sc := NewScraper(src, store, NewExposition(), ScraperOptions{Registerer: reg})
		done := make(chan error, 1)
		go func() { done <- sc.Run(context.Background()) }()

		synctest.Wait()
		if n := src.reads(); n != 1 {
			t.Fatalf("%d reads at start, want 1 (scrape at once)", n)
		}
		time.Sleep(time.Minute) // four intervals of the fake clock
		synctest.Wait()
		if n := src.reads(); n != 5 {
			t.Errorf("%d reads after a minute, want 5", n)
		}
		got := store.Query(Query{Types: []model.MetricType{model.MetricCPU}, From: time.Now().Add(-time.Hour), To: time.Now()})
		if len(got) != 1 || len(got[0].Points) != 4 || got[0].Points[3].Value != 0.5 {
			t.Errorf("stored cpu %+v, want 4 points of 0.5 cores", got)
		}
		if v := testutil.ToFloat64(sc.series); v != 1 {
			t.Errorf("opshub_metrics_series = %v, want 1", v)
		}
		_ = sc.Close()
		_ = sc.Close() // idempotent
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
