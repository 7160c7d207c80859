package spend

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// TestLedgerWhenTheClockStepsBackAndForward ticks a meter once a minute for
// 150 minutes of real time while the wall clock steps back an hour after 90
// minutes and is put right 60 minutes later. The ledger charges wall-clock
// minutes once each: during the wrong hour it charges nothing (those
// minutes were charged already) and the month to date never goes down;
// once the clock is right, the minutes the wrong hour hid are charged.
// In the end every minute is charged once: no hour holds more than 60
// minutes, none is missing, and the threshold alert went out once.
func TestLedgerWhenTheClockStepsBackAndForward(t *testing.T) {
	db, l := openLedgerAt(t, filepath.Join(t.TempDir(), "state.db"))
	defer db.Close()
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	clock := sinktest.NewFakeClock(t0)
	busy := fixedObserver{{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 100}}
	var sent []model.Event
	m, err := NewMeter(MeterOptions{Ledger: l, Observer: busy, Currency: "USD", DB: db, Now: clock.Now,
		Thresholds: []Threshold{{Amount: 5}}, Publish: func(e model.Event) { sent = append(sent, e) }})
	if err != nil {
		t.Fatal(err)
	}
	perMinute := 100 * 0.031611 / 60
	var last float64
	tick := func(minutes int) {
		t.Helper()
		for range minutes {
			m.Tick(context.Background())
			now := clock.Now()
			got := l.MonthToDate(now, "")
			if got < last {
				t.Fatalf("at %s the month to date went down from %.4f to %.4f", now.Format(time.TimeOnly), last, got)
			}
			last = got
			clock.Advance(time.Minute)
		}
	}
	tick(90)
	if want := 89 * perMinute; cents(last) != cents(want) {
		t.Fatalf("after 90 minutes: %.4f, want %.4f", last, want)
	}
	clock.Advance(-time.Hour) // the clock steps back
	tick(60)
	if want := 89 * perMinute; cents(last) != cents(want) {
		t.Errorf("after the wrong hour: %.4f, want %.4f (its minutes were charged before the step)", last, want)
	}
	clock.Advance(time.Hour) // and is put right
	tick(1)
	if want := 150 * perMinute; cents(last) != cents(want) { // 150 minutes passed since the first tick
		t.Errorf("once the clock is right: %.4f, want %.4f (every minute once)", last, want)
	}
	for h := range 3 {
		from := t0.Add(time.Duration(h) * time.Hour)
		r := l.Report(clock.Now(), from, from.Add(time.Hour), nil)
		if max := 60 * perMinute; cents(r.Total) > cents(max) {
			t.Errorf("hour %d holds %.4f, more than an hour's %.4f: minutes charged twice", h, r.Total, max)
		}
	}
	thresholds := 0
	for _, e := range sent {
		if e.Name == model.EventSpendThreshold {
			thresholds++
		}
	}
	if thresholds != 1 {
		t.Errorf("%d spend.threshold events, want 1: %+v", thresholds, sent)
	}
}
