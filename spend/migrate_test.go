package spend

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// testdata/ledger-v1.db is a state file written by opshub before the
// compact ledger (commit 6968e80): one hourly bucket per instance and
// resource, by v1Scenario with one compaction on November 1st 06:00
// (retention: 1 hourly month of 2), so it holds October as daily buckets
// per service and November as hourly ones per instance. ledger-v1.json
// holds that version's reports on it at the cursor.
var v1Zone = time.FixedZone("UTC+2", 2*3600)

var v1Retention = Retention{HourlyMonths: 1, Months: 2}

type v1Reports struct {
	Now     time.Time `json:"now"`
	Cursor  time.Time `json:"cursor"`
	Reports []struct {
		From, To time.Time
		By       []string
		Report   Report
	} `json:"reports"`
}

func loadV1Reports(t *testing.T) v1Reports {
	t.Helper()
	raw, err := os.ReadFile("testdata/ledger-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v v1Reports
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// v1Scenario ticks hourly from September 20th to November 2nd 18:00: web-1
// (0.5 core request, 0.2 used; 256 MiB requested, 300 MiB used) and api-1
// (0.25 core requested, 1 used; 1 GiB) all along, web-2 (1 core, 512 MiB)
// from November 1st 12:00, and web's 10 GiB volume.
func v1Scenario(t *testing.T, l *Ledger) {
	t.Helper()
	web1 := Container{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 0.5, CPUUsage: 0.2, MemoryRequest: 256 << 20, MemoryUsage: 300 << 20}
	web2 := Container{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-2"}, Running: true, CPURequest: 1, MemoryRequest: 512 << 20}
	api := Container{Ref: model.Ref{Project: "shop", Service: "api", Instance: "api-1"}, Running: true, CPURequest: 0.25, CPUUsage: 1, MemoryRequest: 1 << 30}
	vol := []Volume{{Ref: model.Ref{Project: "demo", Service: "web", Instance: "data"}, CapacityBytes: 10 << 30}}
	web2From := time.Date(2026, 11, 1, 12, 0, 0, 0, v1Zone)
	end := time.Date(2026, 11, 2, 18, 0, 0, 0, v1Zone)
	for at := time.Date(2026, 9, 20, 0, 0, 0, 0, v1Zone); !at.After(end); at = at.Add(time.Hour) {
		cs := []Container{web1, api}
		if !at.Before(web2From.Add(time.Hour)) {
			cs = append(cs, web2)
		}
		if err := l.Tick(at, cs, vol); err != nil {
			t.Fatal(err)
		}
		if at.Equal(time.Date(2026, 11, 1, 6, 0, 0, 0, v1Zone)) {
			if _, err := l.Compact(at); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// sameReports checks that l reports what the hourly buckets reported,
// every row and the total to a billionth.
func sameReports(t *testing.T, l *Ledger, want v1Reports) {
	t.Helper()
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }
	for _, w := range want.Reports {
		got := l.Report(want.Now, w.From, w.To, w.By)
		name := w.From.Format(time.DateTime) + " to " + w.To.Format(time.DateTime) + " by " + string(must(json.Marshal(w.By)))
		if !close(got.Total, w.Report.Total) || !close(got.Forecast.Month, w.Report.Forecast.Month) || !close(got.Forecast.Week, w.Report.Forecast.Week) {
			t.Errorf("%s: total %v, forecasts %+v; want %v, %+v", name, got.Total, got.Forecast, w.Report.Total, w.Report.Forecast)
		}
		if len(got.Rows) != len(w.Report.Rows) {
			t.Errorf("%s: rows %+v, want %+v", name, got.Rows, w.Report.Rows)
			continue
		}
		for i, r := range got.Rows {
			wr := w.Report.Rows[i]
			if c, wc := r.Cost, wr.Cost; r.Project != wr.Project || r.Service != wr.Service || r.Instance != wr.Instance || r.Resource != wr.Resource || !close(c, wc) {
				t.Errorf("%s: row %d is %+v, want %+v", name, i, r, wr)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// The compact ledger fed what the hourly buckets were fed reports the same
// rows and totals: by project, service and resource exactly; by instance
// too here, where every instance is charged at a steady rate within each
// hourly month (see TestInstanceRowsShareOutTheServiceByMonth for the rest).
func TestReportsAsTheHourlyBucketsDid(t *testing.T) {
	want := loadV1Reports(t)
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisMax}, v1Zone, &memStore{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetRetention(v1Retention); err != nil {
		t.Fatal(err)
	}
	v1Scenario(t, l)
	sameReports(t, l, want)
}

// A state file of the earlier version is migrated when the ledger opens:
// same reports, the hourly buckets gone from the file, and the ledger goes
// on from the cursor.
func TestMigratesAStateFileOfHourlyBuckets(t *testing.T) {
	want := loadV1Reports(t)
	raw, err := os.ReadFile("testdata/ledger-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	legacy := store.NewBucket[Entry](db, "spend-ledger")
	if old, err := legacy.List(); err != nil || len(old) < 400 {
		t.Fatalf("the test file holds %d hourly buckets (%v)", len(old), err)
	}
	m := Model{Prices: DefaultPrices(), Basis: BasisMax}
	l, err := OpenLedger(m, v1Zone, NewDBStore(db))
	if err != nil {
		t.Fatal(err)
	}
	if !l.Cursor().Equal(want.Cursor) {
		t.Errorf("cursor %v, want %v", l.Cursor(), want.Cursor)
	}
	sameReports(t, l, want)
	if old, err := legacy.List(); err != nil || len(old) != 0 {
		t.Errorf("%d hourly buckets left in the state file after the migration (%v)", len(old), err)
	}
	reopened, err := OpenLedger(m, v1Zone, NewDBStore(db))
	if err != nil {
		t.Fatal(err)
	}
	sameReports(t, reopened, want)

	// One more hour of web-1 alone: 0.5 core.
	web1 := Container{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 0.5}
	mtd := reopened.MonthToDate(want.Now, "")
	if err := reopened.Tick(want.Cursor.Add(time.Hour), []Container{web1}, nil); err != nil {
		t.Fatal(err)
	}
	if got, add := reopened.MonthToDate(want.Now.Add(time.Hour), ""), 0.5*0.031611; math.Abs(got-mtd-add) > 1e-9 {
		t.Errorf("after an hour more the month costs %.9f, want %.9f", got, mtd+add)
	}
}
