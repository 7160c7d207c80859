package spend

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// fixedObserver reports the same containers at every tick.
type fixedObserver []Container

func (f fixedObserver) Observe(context.Context, time.Time) ([]Container, []Volume, error) {
	return f, nil, nil
}

// openLedgerAt opens the state database at path and, on it, a ledger of the
// default prices charging the larger of request and usage, in UTC. The
// caller closes the database.
func openLedgerAt(t *testing.T, path string) (*store.DB, *Ledger) {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisMax}, time.UTC, NewDBStore(db))
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return db, l
}

// TestMeterSendsAThresholdOnceAcrossRestarts runs a meter until a threshold
// fires, restarts it on the same state file, and checks nothing is sent again.
func TestMeterSendsAThresholdOnceAcrossRestarts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	// 100 cores cost 3.1611 an hour: the 1.00 threshold passes in the first hour.
	busy := fixedObserver{{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 100}}
	var sent []model.Event
	run := func(minutes int) {
		db, l := openLedgerAt(t, path)
		defer db.Close()
		m, err := NewMeter(MeterOptions{
			Ledger: l, Observer: busy, Currency: "USD", DB: db,
			Thresholds: []Threshold{{Amount: 1}},
			Publish:    func(e model.Event) { sent = append(sent, e) },
			Now:        func() time.Time { return now },
		})
		if err != nil {
			t.Fatal(err)
		}
		// What Run does at start, without its ticker: load the marks.
		st, _, err := m.alerts.Get("state")
		if err != nil {
			t.Fatal(err)
		}
		m.state = st
		for range minutes {
			m.Tick(context.Background())
			now = now.Add(time.Minute)
		}
	}
	count := func(name string) int {
		n := 0
		for _, e := range sent {
			if e.Name == name {
				n++
			}
		}
		return n
	}
	run(40)
	if count(model.EventSpendThreshold) != 1 || count(model.EventSpendForecast) != 1 || sent[0].Name != model.EventSpendForecast {
		t.Fatalf("after 40 minutes at 3.16/h: %+v, want a spend.forecast, then one spend.threshold", sent)
	}
	run(40)
	if len(sent) != 2 {
		t.Fatalf("alerts were sent again after a restart: %+v", sent[2:])
	}
	report := func() float64 {
		db, _ := store.Open(path)
		defer db.Close()
		l, _ := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisMax}, time.UTC, NewDBStore(db))
		return l.MonthToDate(now, "")
	}()
	// 79 charged minutes: the first tick only sets the cursor.
	if want := 79 * 100 * 0.031611 / 60; cents(report) != cents(want) {
		t.Errorf("ledger holds %.4f, want %.4f", report, want)
	}
}

func TestMeterExposesSpendMetrics(t *testing.T) {
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisMax}, time.UTC, &memStore{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMeter(MeterOptions{Ledger: l, Currency: "USD", Now: func() time.Time { return now },
		Observer: fixedObserver{{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 61 {
		m.Tick(context.Background())
		now = now.Add(time.Minute)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var mtd float64
	for _, f := range families {
		if f.GetName() == "opshub_spend_month_to_date" && len(f.Metric) == 1 {
			mtd = f.Metric[0].GetGauge().GetValue()
		}
	}
	// One hour of one core.
	if cents(mtd) != cents(0.031611) {
		t.Fatalf("opshub_spend_month_to_date = %v, want 0.03", mtd)
	}
	if n, err := testutil.GatherAndCount(reg, "opshub_spend_forecast"); err != nil || n != 2 {
		t.Fatalf("forecast series: %d, %v", n, err)
	}
}
