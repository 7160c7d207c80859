package spend

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

const coreHour = 0.031611

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

func instanceCosts(r Report) map[string]float64 {
	out := map[string]float64{}
	for _, row := range r.Rows {
		out[row.Instance] += row.Cost
	}
	return out
}

// By instance, a range inside a month gives each instance its share of the
// service's cost in the range: its cost in the month, counted for the part
// of the range between its first and last charged hour. Exact for
// instances at a steady rate; an instance whose rate changed within the
// month gets its average rate.
func TestInstanceRowsShareOutTheServiceByMonth(t *testing.T) {
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisRequests}, time.UTC, &memStore{})
	if err != nil {
		t.Fatal(err)
	}
	ref := func(i string) model.Ref { return model.Ref{Project: "demo", Service: "web", Instance: i} }
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	// a: 1 core on the 1st to the 10th; b: 2 cores on the 11th to the 30th;
	// c: 1 core until the 15th, 3 cores after.
	for at := day(1); !at.After(day(31)); at = at.Add(time.Hour) {
		var cs []Container
		if at.After(day(1)) && !at.After(day(11)) {
			cs = append(cs, Container{Ref: ref("a"), Running: true, CPURequest: 1})
		}
		if at.After(day(11)) {
			cs = append(cs, Container{Ref: ref("b"), Running: true, CPURequest: 2})
		}
		c := 1.0
		if at.After(day(16)) {
			c = 3
		}
		cs = append(cs, Container{Ref: ref("c"), Running: true, CPURequest: c})
		if err := l.Tick(at, cs, nil); err != nil {
			t.Fatal(err)
		}
	}
	now := day(31)
	r := coreHour * 24 // a core-day
	for _, tt := range []struct {
		name     string
		from, to time.Time
		want     map[string]float64
	}{
		{"the whole month: each its own cost", day(1), now, map[string]float64{"a": 10 * r, "b": 20 * 2 * r, "c": 15*r + 15*3*r}},
		{"5th to 8th: b had not started", day(5), day(8), map[string]float64{
			// service 3 × (a 1 + c 1) core-days; a's weight 10r × 3/10, c's 60r × 3/30.
			"a": 6 * r * 3 / 9, "c": 6 * r * 6 / 9}},
		{"21st to 26th: a had ended", day(21), day(26), map[string]float64{
			// service 5 × (b 2 + c 3); b weighs 40r × 5/20, c 60r × 5/30.
			"b": 25 * r * 10 / 20, "c": 25 * r * 10 / 20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep := l.Report(now, tt.from, tt.to, []string{"instance"})
			got := instanceCosts(rep)
			sum := 0.0
			for i, c := range got {
				sum += c
				if !near(c, tt.want[i]) {
					t.Errorf("instance %q: %.9f, want %.9f", i, c, tt.want[i])
				}
			}
			if len(got) != len(tt.want) || !near(sum, rep.Total) {
				t.Errorf("rows %+v, want %v summing to the total %.9f", rep.Rows, tt.want, rep.Total)
			}
			if svc := l.Report(now, tt.from, tt.to, []string{"service"}); !near(svc.Total, rep.Total) {
				t.Errorf("total by instance %.9f, by service %.9f", rep.Total, svc.Total)
			}
		})
	}
}

// A ledger that stops without Flush (a crash, a lost leadership) keeps
// every committed minute of every service; its instances' totals lag by
// at most the hour since each service's were written, and the shares stay
// right. A meter that stops writes them.
func TestRestartKeepsMinutesAndInstanceShares(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	m := Model{Prices: DefaultPrices(), Basis: BasisRequests}
	t0 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	clock := sinktest.NewFakeClock(t0)
	pods := fixedObserver{
		{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 1},
		{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-2"}, Running: true, CPURequest: 3},
	}
	open := func() (*store.DB, *Ledger) {
		db, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		l, err := OpenLedger(m, time.UTC, NewDBStore(db))
		if err != nil {
			t.Fatal(err)
		}
		return db, l
	}
	check := func(l *Ledger, minutes float64) {
		t.Helper()
		perMinute := 4 * coreHour / 60
		if got := l.MonthToDate(clock.Now(), ""); !near(got, minutes*perMinute) {
			t.Errorf("after %v minutes the month costs %.9f, want %.9f", minutes, got, minutes*perMinute)
		}
		start, end := l.Month(clock.Now())
		rep := l.Report(clock.Now(), start, end, []string{"instance"})
		got := instanceCosts(rep)
		if !near(got["web-1"], minutes*perMinute/4) || !near(got["web-2"], minutes*perMinute*3/4) {
			t.Errorf("after %v minutes by instance: %+v, want a quarter and three quarters", minutes, rep.Rows)
		}
	}
	db, l := open()
	for range 90 {
		if err := l.Tick(clock.Now(), pods, nil); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	db.Close() // no Flush
	db, l = open()
	clock.Advance(-time.Minute)
	check(l, 89)
	clock.Advance(time.Minute)

	meter, err := NewMeter(MeterOptions{Ledger: l, Observer: pods, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(30 * time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := meter.Run(ctx); err != nil { // one tick, then the stop
		t.Fatal(err)
	}
	k := serviceMonth{l.monthIndex(t0), "demo", "web"}
	held := l.instances[k].instances["web-2"].costs[0]
	db.Close()
	db, l = open()
	defer db.Close()
	check(l, 120)
	if got := l.instances[k].instances["web-2"].costs[0]; math.Abs(got-held) > 1 {
		t.Errorf("web-2's total read back after the meter stopped: %.0f nanos, want the %.0f it held", got, held)
	}
}

// A service whose pods are replaced all month keeps the totals of at most
// MaxInstances of them: the ones that stopped longest ago are merged into
// a row without an instance, and the rows still add up to the service.
func TestInstancesOfAMonthAreBounded(t *testing.T) {
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisRequests}, time.UTC, &memStore{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	for at := start; !at.After(end); at = at.Add(time.Hour) {
		// A new pod every 6 hours: 120 in the month.
		pod := fmt.Sprintf("web-%03d", int(at.Sub(start).Hours()-1)/6)
		c := Container{Ref: model.Ref{Project: "demo", Service: "web", Instance: pod}, Running: true, CPURequest: 1}
		if err := l.Tick(at, []Container{c}, nil); err != nil {
			t.Fatal(err)
		}
	}
	rep := l.Report(end, start, end, []string{"instance"})
	got := instanceCosts(rep)
	if len(got) != MaxInstances || got[""] == 0 {
		t.Fatalf("%d rows, want %d with one for the merged instances: %+v", len(got), MaxInstances, rep.Rows)
	}
	if want := 6 * coreHour; !near(got["web-119"], want) || !near(got["web-071"], want) {
		t.Errorf("the newest instances cost %.6f and %.6f, want %.6f each", got["web-119"], got["web-071"], want)
	}
	if want := 71 * 6 * coreHour; !near(got[""], want) {
		t.Errorf("the 71 merged instances cost %.6f, want %.6f", got[""], want)
	}
	if !near(rep.Total, 30*24*coreHour) {
		t.Errorf("total %.6f, want %.6f", rep.Total, 30*24*coreHour)
	}
}
