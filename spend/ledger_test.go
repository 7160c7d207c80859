package spend

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// memStore is an in-memory LedgerStore: the 45-day simulation checks the
// arithmetic; the durable store has its own crash test.
type memStore struct {
	cursor    time.Time
	series    map[int]Series
	hours     map[string]HourCosts
	days      map[string]DayCosts
	instances map[string]InstanceCosts
	legacy    []Entry
}

func (m *memStore) Load() (Snapshot, error) {
	return Snapshot{Cursor: m.cursor, Series: maps.Clone(m.series), Hours: slices.Collect(maps.Values(m.hours)),
		Days: slices.Collect(maps.Values(m.days)), Instances: slices.Collect(maps.Values(m.instances)), Legacy: m.legacy}, nil
}

func (m *memStore) Write(b Batch) error {
	if m.series == nil {
		m.series, m.hours, m.days, m.instances = map[int]Series{}, map[string]HourCosts{}, map[string]DayCosts{}, map[string]InstanceCosts{}
	}
	if !b.Cursor.IsZero() {
		m.cursor = b.Cursor
	}
	maps.Copy(m.series, b.Series)
	for _, i := range b.DropSeries {
		delete(m.series, i)
	}
	for _, h := range b.Hours {
		m.hours[hourKey(h.Hour)] = h
	}
	for _, h := range b.DropHours {
		delete(m.hours, hourKey(h))
	}
	for _, d := range b.Days {
		m.days[d.Day] = d
	}
	for _, d := range b.DropDays {
		delete(m.days, d)
	}
	for _, c := range b.Instances {
		m.instances[instancesKey(c)] = c
	}
	for _, c := range b.DropInstances {
		delete(m.instances, instancesKey(c))
	}
	if b.DropLegacy {
		m.legacy = nil
	}
	return nil
}

const mi = 1 << 20

// Prices per day of the fixture, worked out by hand (OpenCost prices,
// basis max):
//
//	web  (demo): cpu max(0.5 req, 0.2 use) = 0.5 core  × 0.031611 × 24 = 0.379332
//	             mem max(256Mi, 300Mi) = 300/1024 GiB × 0.004237 × 24 = 0.029790703125
//	             volume 10 GiB × 0.04 / 730 × 24                       = 0.013150684931506849
//	api  (shop): cpu max(0.25, 1.0) = 1 core × 0.031611 × 24          = 0.758664
//	             mem max(1 GiB, 0.5 GiB) = 1 GiB × 0.004237 × 24       = 0.101688
//	after the api's load quadruples: cpu 4 cores × 0.031611 × 24      = 3.034656
const (
	webDay      = 0.379332 + 0.029790703125 + 0.013150684931506849
	shopDay     = 0.758664 + 0.101688
	shopBusyDay = 3.034656 + 0.101688
)

func TestFortyFiveDaysAcrossAMonthBoundary(t *testing.T) {
	tz := time.FixedZone("UTC+2", 2*3600)
	start := time.Date(2026, 10, 20, 0, 0, 0, 0, tz)
	busyFrom := time.Date(2026, 11, 10, 0, 0, 0, 0, tz)
	l, err := OpenLedger(Model{Prices: DefaultPrices(), Basis: BasisMax}, tz, &memStore{})
	if err != nil {
		t.Fatal(err)
	}
	thresholds := []Threshold{{Amount: 10}, {Amount: 45}, {Amount: 40, Project: "shop"}}
	var st AlertState
	type fired struct {
		name  string
		at    time.Time
		event model.Event
	}
	var alerts []fired
	web := model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}
	api := model.Ref{Project: "shop", Service: "api", Instance: "api-1", Container: "api"}
	never := Container{Ref: model.Ref{Project: "demo", Service: "job", Instance: "job-1"}, Running: false, CPURequest: 8, MemoryRequest: 64 << 30}

	end := start.AddDate(0, 0, 45)
	for now := start; !now.After(end); now = now.Add(15 * time.Minute) {
		apiUse := 1.0
		if !now.Before(busyFrom.Add(15 * time.Minute)) {
			apiUse = 4.0
		}
		cs := []Container{
			{Ref: web, Running: true, CPURequest: 0.5, CPUUsage: 0.2, MemoryRequest: 256 * mi, MemoryUsage: 300 * mi},
			{Ref: api, Running: true, CPURequest: 0.25, CPUUsage: apiUse, MemoryRequest: 1 << 30, MemoryUsage: 512 * mi},
			never,
		}
		vs := []Volume{{Ref: model.Ref{Project: "demo", Service: "web", Instance: "data"}, CapacityBytes: 10 << 30}}
		if err := l.Tick(now, cs, vs); err != nil {
			t.Fatal(err)
		}
		if now.Minute() != 0 {
			continue // alerts are evaluated hourly here, to keep the test quick
		}
		for _, e := range l.Alerts(now, "USD", thresholds, &st) {
			alerts = append(alerts, fired{e.Name, now, e})
		}
	}

	octStart := time.Date(2026, 10, 1, 0, 0, 0, 0, tz)
	novStart := time.Date(2026, 11, 1, 0, 0, 0, 0, tz)
	decStart := time.Date(2026, 12, 1, 0, 0, 0, 0, tz)
	tests := []struct {
		name     string
		from, to time.Time
		by       []string
		want     map[Row]float64
	}{
		{"October (12 days)", octStart, novStart, []string{"project"}, map[Row]float64{
			{Project: "demo"}: 12 * webDay, {Project: "shop"}: 12 * shopDay}},
		{"November (9 days calm, 21 busy)", novStart, decStart, []string{"project"}, map[Row]float64{
			{Project: "demo"}: 30 * webDay, {Project: "shop"}: 9*shopDay + 21*shopBusyDay}},
		{"November by resource", novStart, decStart, []string{"resource"}, map[Row]float64{
			{Resource: CPU}:     30*0.379332 + 9*0.758664 + 21*3.034656,
			{Resource: Memory}:  30*0.029790703125 + 30*0.101688,
			{Resource: Storage}: 30 * 0.013150684931506849}},
		{"December (3 days: Oct 20 + 45 days is Dec 4, 00:00)", decStart, end, []string{"service"}, map[Row]float64{
			{Project: "demo", Service: "web"}: 3 * webDay, {Project: "shop", Service: "api"}: 3 * shopBusyDay}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := l.Report(end, tt.from, tt.to, tt.by)
			if len(r.Rows) != len(tt.want) {
				t.Fatalf("rows %+v, want %v", r.Rows, tt.want)
			}
			total := 0.0
			for _, row := range r.Rows {
				cost := row.Cost
				row.Cost = 0
				want, ok := tt.want[row]
				if !ok {
					t.Fatalf("unexpected row %+v", row)
				}
				if cents(cost) != cents(want) {
					t.Errorf("%+v: %.4f, want %.4f (to the cent)", row, cost, want)
				}
				total += want
			}
			if cents(r.Total) != cents(total) {
				t.Errorf("total %.4f, want %.4f", r.Total, total)
			}
		})
	}

	count := map[string]int{}
	var forecast45, threshold45 time.Time
	for _, a := range alerts {
		amount := a.event.Data["amount"].(float64)
		key := a.name + "/" + a.event.Project + "/" + a.event.Data["month"].(string)
		if a.name == model.EventSpendThreshold {
			count[key+"/"+ftoa(amount)]++
		}
		if amount == 45 && a.name == model.EventSpendForecast && forecast45.IsZero() {
			forecast45 = a.at
		}
		if amount == 45 && a.name == model.EventSpendThreshold {
			threshold45 = a.at
		}
	}
	for key, n := range count {
		if n != 1 {
			t.Errorf("%s fired %d times, want once", key, n)
		}
	}
	for _, want := range []string{"spend.threshold//2026-10/10", "spend.threshold//2026-11/10", "spend.threshold//2026-11/45", "spend.threshold/shop/2026-11/40", "spend.threshold//2026-12/10"} {
		if count[want] != 1 {
			t.Errorf("%s fired %d times, want once (all: %v)", want, count[want], count)
		}
	}
	if forecast45.IsZero() || threshold45.IsZero() || !forecast45.Before(threshold45) {
		t.Errorf("accelerating spend: forecast alert at %v, threshold alert at %v; want the forecast first", forecast45, threshold45)
	}
}

func cents(v float64) int64 { return int64(math.Round(v * 100)) }
func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
