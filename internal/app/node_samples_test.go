package app

import (
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func scrape(n int, at time.Time) []model.Sample {
	out := make([]model.Sample, n)
	for i := range out {
		out[i] = model.Sample{Ref: model.Ref{Project: "shop", Service: "web", Instance: "web-1", Container: "web"}, Type: model.MetricCPU, Time: at, Value: float64(i)}
	}
	return out
}

func TestSampleLogCursor(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	clock := t0
	log := newSampleLog("node-a", time.Hour, 1000, func() time.Time { return clock })

	node, got, next := log.SamplesSince(time.Time{})
	if node != "node-a" || len(got) != 0 || !next.IsZero() {
		t.Fatalf("empty log: %s %d %v", node, len(got), next)
	}
	log.add(scrape(3, t0))
	_, got, cursor := log.SamplesSince(time.Time{})
	if len(got) != 3 || !cursor.Equal(t0) {
		t.Fatalf("first scrape: %d samples, next %v", len(got), cursor)
	}
	// The clock does not move (or steps back): the next batch is still
	// recorded after the cursor, so it is not missed.
	clock = t0.Add(-time.Second)
	log.add(scrape(2, t0))
	_, got, cursor2 := log.SamplesSince(cursor)
	if len(got) != 2 || !cursor2.After(cursor) {
		t.Fatalf("after the cursor: %d samples, next %v (was %v)", len(got), cursor2, cursor)
	}
	_, got, cursor3 := log.SamplesSince(cursor2)
	if len(got) != 0 || !cursor3.Equal(cursor2) {
		t.Errorf("nothing new: %d samples, next %v", len(got), cursor3)
	}
}

func TestSampleLogBounds(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	clock := t0
	log := newSampleLog("node-a", time.Hour, 100, func() time.Time { return clock })
	for i := range 10 {
		clock = t0.Add(time.Duration(i) * 15 * time.Second)
		log.add(scrape(30, clock))
	}
	if _, got, _ := log.SamplesSince(time.Time{}); len(got) != 90 {
		t.Errorf("held %d samples, want the newest 3 scrapes (90) under a bound of 100", len(got))
	}
	clock = t0.Add(3 * time.Hour)
	log.add(scrape(1, clock))
	if _, got, _ := log.SamplesSince(time.Time{}); len(got) != 1 {
		t.Errorf("held %d samples after an hour's retention passed, want 1", len(got))
	}
}
