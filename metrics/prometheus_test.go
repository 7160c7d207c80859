package metrics_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/opshub/opshub/internal/promtest"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
)

type readings []metrics.Reading

func (r *readings) Read(context.Context, time.Time) ([]metrics.Reading, error) { return *r, nil }

// TestPrometheusScrapesExposition has a real Prometheus scrape the
// per-container series and reads them back through its query API.
func TestPrometheusScrapesExposition(t *testing.T) {
	ref := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}
	store := metrics.NewStore(time.Hour, 15*time.Second)
	expo := metrics.NewExposition()
	now := time.Now()
	src := &readings{{Ref: ref, Time: now.Add(-15 * time.Second), MemoryWorkingSet: metrics.Known(100 << 20), CPUSeconds: metrics.Known(3)}}
	sc := metrics.NewScraper(src, store, expo, metrics.ScraperOptions{})
	sc.Scrape(context.Background(), now.Add(-15*time.Second))
	*src = readings{{Ref: ref, Time: now, MemoryWorkingSet: metrics.Known(200 << 20), CPUSeconds: metrics.Known(10.5)}}
	sc.Scrape(context.Background(), now)

	reg := prometheus.NewRegistry()
	reg.MustRegister(expo)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	prom := promtest.Start(t, fmt.Sprintf(`
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: opshub
    honor_labels: true
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(srv.URL, "http://")))

	got := prom.WaitQuery(t, `opshub_container_memory_working_set_bytes{project="demo",service="web"}`, 1, 30*time.Second)
	if got[0].Value != 200<<20 || got[0].Labels["instance"] != "web-0" || got[0].Labels["container"] != "web" {
		t.Errorf("Prometheus read %+v, want 200 MiB for instance web-0, container web", got[0])
	}
	cpu := prom.WaitQuery(t, `opshub_container_cpu_usage_seconds_total{instance="web-0"}`, 1, 10*time.Second)
	if cpu[0].Value != 7.5 {
		t.Errorf("cpu counter in Prometheus %v, want 7.5 s (half a core for 15 s)", cpu[0].Value)
	}
	up := prom.WaitQuery(t, `up{job="opshub"} == 1`, 1, 10*time.Second)
	if len(up) != 1 {
		t.Errorf("scrape of opshub's series failed: %+v", up)
	}
}
