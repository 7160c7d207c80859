package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/promtest"
	"github.com/opshub/opshub/model"
)

// staticSource returns the same containers at every read.
type staticSource []Reading

func (s staticSource) Read(_ context.Context, now time.Time) ([]Reading, error) {
	out := make([]Reading, len(s))
	for i, r := range s {
		r.Time = now
		out[i] = r
	}
	return out, nil
}

func TestScraperTurnsLineCountsIntoLogLines(t *testing.T) {
	web := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}
	quiet := model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}
	volumes := model.Ref{Project: "demo", Service: "web"}
	gone := model.Ref{Project: "demo", Service: "old", Instance: "old-0", Container: "old"}
	src := staticSource{{Ref: web}, {Ref: quiet}, {Ref: volumes}}
	store := NewStore(time.Hour, 15*time.Second)
	expo := NewExposition()
	lines := NewLineCounter()
	sc := NewScraper(src, store, expo, ScraperOptions{Lines: lines})

	t0 := time.Now()
	lines.Add(web, 10)
	sc.Scrape(context.Background(), t0)
	lines.Add(web, 30)
	lines.Add(gone, 5) // its container is not live any more: dropped
	sc.Scrape(context.Background(), t0.Add(15*time.Second))

	text := promtest.Exposition(t, expo)
	for _, want := range []string{
		`opshub_container_log_lines_total{container="web",instance="web-0",project="demo",service="web"} 40`,
		`opshub_container_log_lines_total{container="web",instance="web-1",project="demo",service="web"} 0`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{`instance="old-0"`, `opshub_container_log_lines_total{project="demo",service="web"}`} {
		if strings.Contains(text, unwanted) {
			t.Errorf("/metrics has %s:\n%s", unwanted, text)
		}
	}
	got := store.Query(Query{Types: []model.MetricType{model.MetricLogLines}, Container: "web-0", From: t0.Add(-time.Minute), To: t0.Add(time.Minute)})
	if len(got) != 1 || len(got[0].Points) != 1 || got[0].Points[0].Value != 2 {
		t.Errorf("stored log-lines %+v, want one point of 2 lines/s (30 lines in 15 s)", got)
	}
}
