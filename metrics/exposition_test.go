package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/promtest"
	"github.com/opshub/opshub/model"
)

// fakeSource returns whatever readings the test sets.
type fakeSource struct{ readings []Reading }

func (f *fakeSource) Read(context.Context, time.Time) ([]Reading, error) { return f.readings, nil }

func TestScraperExposesAndRemovesContainers(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	web0 := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}
	web1 := model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}
	reading := func(ref model.Ref, at time.Time, cpu float64) Reading {
		return Reading{Ref: ref, Time: at, CPUSeconds: Known(cpu), MemoryWorkingSet: Known(64 << 20),
			NetworkRxBytes: Known(cpu * 1000), Restarts: Known(1)}
	}
	src := &fakeSource{}
	store := NewStore(time.Hour, 15*time.Second)
	expo := NewExposition()
	sc := NewScraper(src, store, expo, ScraperOptions{})

	src.readings = []Reading{reading(web0, t0, 10), reading(web1, t0, 20),
		{Ref: web0.ServiceRef(), Time: t0, Volumes: []VolumeReading{{Name: "data", Used: Known(1 << 20), Capacity: Known(1 << 30)}}}}
	sc.Scrape(context.Background(), t0)
	t1 := t0.Add(15 * time.Second)
	src.readings = []Reading{reading(web0, t1, 17.5), reading(web1, t1, 21.5),
		{Ref: web0.ServiceRef(), Time: t1, Volumes: []VolumeReading{{Name: "data", Used: Known(2 << 20), Capacity: Known(1 << 30)}}}}
	sc.Scrape(context.Background(), t1)

	out := promtest.Exposition(t, expo)
	for _, want := range []string{
		"# HELP opshub_container_cpu_usage_seconds_total CPU time used",
		"# TYPE opshub_container_cpu_usage_seconds_total counter",
		`opshub_container_cpu_usage_seconds_total{container="web",instance="web-0",project="demo",service="web"} 7.5`,
		`opshub_container_cpu_usage_seconds_total{container="web",instance="web-1",project="demo",service="web"} 1.5`,
		`opshub_container_memory_working_set_bytes{container="web",instance="web-1",project="demo",service="web"} 6.7108864e+07`,
		`opshub_container_network_receive_bytes_total{container="web",instance="web-0",project="demo",service="web"} 7500`,
		`opshub_container_restarts_total{container="web",instance="web-0",project="demo",service="web"} 1`,
		`opshub_volume_used_bytes{project="demo",service="web",volume="data"} 2.097152e+06`,
		"# TYPE opshub_volume_capacity_bytes gauge",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, out)
		}
	}
	promtest.CheckMetrics(t, out)
	if got := store.Query(Query{Types: []model.MetricType{model.MetricCPU}, From: t0, To: t1}); len(got) != 2 || got[0].Points[0].Value != 0.5 {
		t.Errorf("stored cpu series %+v, want 2 with web-0 at 0.5 cores", got)
	}

	// web-1 exits: its series are gone at the next scrape, web-0's stay.
	t2 := t1.Add(15 * time.Second)
	src.readings = []Reading{reading(web0, t2, 25)}
	sc.Scrape(context.Background(), t2)
	out = promtest.Exposition(t, expo)
	if strings.Contains(out, `instance="web-1"`) {
		t.Errorf("series of an exited container still on /metrics:\n%s", out)
	}
	if strings.Contains(out, "opshub_volume_used_bytes") {
		t.Errorf("volume series of a service no longer read still on /metrics:\n%s", out)
	}
	if !strings.Contains(out, `opshub_container_cpu_usage_seconds_total{container="web",instance="web-0",project="demo",service="web"} 15`) {
		t.Errorf("web-0's counter did not keep growing:\n%s", out)
	}
	if strings.Contains(out, "# TYPE opshub_volume_used_bytes") {
		t.Error("a family without series still prints its HELP and TYPE")
	}
}
