package spend

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// Three months of two instances: the oldest month is rolled into days per
// service; totals and per-service reports stay; reopening from the state
// file sees the same ledger.
func TestCompactRollsOldMonthsIntoDaysPerService(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tz := time.FixedZone("UTC+2", 2*3600)
	m := Model{Prices: DefaultPrices(), Basis: BasisRequests}
	l, err := OpenLedger(m, tz, NewDBStore(db))
	if err != nil {
		t.Fatal(err)
	}
	containers := []Container{
		{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 1},
		{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-2"}, Running: true, CPURequest: 1},
	}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, tz)
	now := time.Date(2026, 11, 15, 12, 0, 0, 0, tz)
	// One tick an hour: 60 minutes each.
	for at := start; !at.After(now); at = at.Add(time.Hour) {
		if err := l.Tick(at, containers, nil); err != nil {
			t.Fatal(err)
		}
	}
	sept := func(l *Ledger) Report {
		return l.Report(now, start, time.Date(2026, 10, 1, 0, 0, 0, 0, tz), []string{"service"})
	}
	before, hours := sept(l), count(l.hours)

	rolled, err := l.Compact(now)
	if err != nil {
		t.Fatal(err)
	}
	// September: 30 days × 24 hours, and the instances' totals of web.
	if rolled != 30*24+1 {
		t.Errorf("rolled %d records, want September's 720 hours and 1 month of instance totals", rolled)
	}
	if got := count(l.hours); got != hours-30*24 {
		t.Errorf("%d hours after compaction, want %d", got, hours-30*24)
	}
	if got := count(l.days); got != 30 {
		t.Errorf("%d days after compaction, want September's 30", got)
	}
	after := sept(l)
	wantSept := 30 * 24 * 2 * 0.031611
	if math.Abs(before.Total-wantSept) > 1e-6 || math.Abs(after.Total-wantSept) > 1e-6 {
		t.Errorf("September costs %.6f before and %.6f after compaction, want %.6f", before.Total, after.Total, wantSept)
	}
	if len(after.Rows) != 1 || after.Rows[0].Service != "web" {
		t.Errorf("September by service = %+v", after.Rows)
	}
	// October (the previous month) keeps its instances.
	oct := l.Report(now, time.Date(2026, 10, 1, 0, 0, 0, 0, tz), time.Date(2026, 11, 1, 0, 0, 0, 0, tz), []string{"instance"})
	if len(oct.Rows) != 2 {
		t.Errorf("October by instance = %+v, want both instances", oct.Rows)
	}
	if again, err := l.Compact(now); err != nil || again != 0 {
		t.Errorf("a second compaction rolled %d (%v), want nothing", again, err)
	}

	reopened, err := OpenLedger(m, tz, NewDBStore(db))
	if err != nil {
		t.Fatal(err)
	}
	if got := sept(reopened).Total; math.Abs(got-wantSept) > 1e-6 {
		t.Errorf("reopened: September costs %.6f, want %.6f", got, wantSept)
	}
	if count(reopened.hours) != count(l.hours) || count(reopened.days) != count(l.days) {
		t.Errorf("reopened ledger has %d hours and %d days, want %d and %d", count(reopened.hours), count(reopened.days), count(l.hours), count(l.days))
	}
}

// The retention decides which months keep hours per instance, which keep
// days per service, and which go: with one hourly month and two months in
// all, October (the previous month) is rolled into days and September is
// dropped, also from the state file.
func TestCompactAppliesTheRetention(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := Model{Prices: DefaultPrices(), Basis: BasisRequests}
	l, err := OpenLedger(m, time.UTC, NewDBStore(db))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetRetention(Retention{HourlyMonths: 1, Months: 2}); err != nil {
		t.Fatal(err)
	}
	containers := []Container{{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 1}}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	for at := start; !at.After(now); at = at.Add(6 * time.Hour) {
		if err := l.Tick(at, containers, nil); err != nil {
			t.Fatal(err)
		}
	}
	month := func(l *Ledger, m time.Month, by string) Report {
		from := time.Date(2026, m, 1, 0, 0, 0, 0, time.UTC)
		return l.Report(now, from, from.AddDate(0, 1, 0), []string{by})
	}
	octBefore := month(l, time.October, "service").Total
	if _, err := l.Compact(now); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*Ledger{l, reopen(t, m, db)} {
		if got := month(l, time.September, "service"); got.Total != 0 || len(got.Rows) != 0 {
			t.Errorf("September is past the retention but still costs %v: %+v", got.Total, got.Rows)
		}
		oct := month(l, time.October, "instance")
		if math.Abs(oct.Total-octBefore) > 1e-9 || len(oct.Rows) != 1 || oct.Rows[0].Instance != "" || oct.Rows[0].Service != "web" {
			t.Errorf("October = %.6f %+v, want %.6f for service web without instances", oct.Total, oct.Rows, octBefore)
		}
		if nov := month(l, time.November, "instance"); len(nov.Rows) != 1 || nov.Rows[0].Instance != "web-1" {
			t.Errorf("November by instance = %+v, want web-1", nov.Rows)
		}
	}
	// October: 31 days; November 1-14: 14 × 24 hours.
	if days, hours := count(l.days), count(l.hours); days != 31 || hours != 14*24 {
		t.Errorf("%d days and %d hours kept, want 31 and %d", days, hours, 14*24)
	}
	if err := l.SetRetention(Retention{HourlyMonths: 3, Months: 2}); err == nil {
		t.Error("a retention keeping fewer months than hourly ones was accepted")
	}
}

func reopen(t *testing.T, m Model, db *store.DB) *Ledger {
	t.Helper()
	l, err := OpenLedger(m, time.UTC, NewDBStore(db))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// count is the number of hours (days) with costs.
func count(r rows) int {
	n := 0
	for _, row := range r.rows {
		if row != nil {
			n++
		}
	}
	return n
}
