package spend

import (
	"math"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestNodePoolPricesAndProjectOverridesWin(t *testing.T) {
	m := Model{
		Prices:    DefaultPrices(),
		Basis:     BasisRequests,
		NodePools: map[string]Prices{"gpu": {CPUCoreHour: 1, MemoryGiBHour: 0.5}},
		Projects:  map[string]Prices{"research": {CPUCoreHour: 0.25}},
	}
	for _, tc := range []struct {
		project, pool string
		want          Prices
	}{
		{"demo", "", DefaultPrices()},
		{"demo", "general", DefaultPrices()},
		{"demo", "gpu", Prices{CPUCoreHour: 1, MemoryGiBHour: 0.5, StorageGiBMonth: 0.04}},
		// The project's own price wins; what it does not set comes from the pool.
		{"research", "gpu", Prices{CPUCoreHour: 0.25, MemoryGiBHour: 0.5, StorageGiBMonth: 0.04}},
		{"research", "", Prices{CPUCoreHour: 0.25, MemoryGiBHour: 0.004237, StorageGiBMonth: 0.04}},
	} {
		if got := m.PricesFor(tc.project, tc.pool); got != tc.want {
			t.Errorf("PricesFor(%q, %q) = %+v, want %+v", tc.project, tc.pool, got, tc.want)
		}
	}

	// An hour of one core on the gpu pool and one on an unnamed node.
	tz := time.UTC
	l, err := OpenLedger(m, tz, &memStore{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, tz)
	containers := []Container{
		{Ref: model.Ref{Project: "demo", Service: "train", Instance: "train-1"}, NodePool: "gpu", Running: true, CPURequest: 1},
		{Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1"}, Running: true, CPURequest: 1},
	}
	for now := start; !now.After(start.Add(time.Hour)); now = now.Add(15 * time.Second) {
		if err := l.Tick(now, containers, nil); err != nil {
			t.Fatal(err)
		}
	}
	end := start.Add(time.Hour)
	rows := l.Report(end, start, end, []string{"service"}).Rows
	got := map[string]float64{}
	for _, r := range rows {
		got[r.Service] += r.Cost
	}
	if math.Abs(got["train"]-1) > 1e-9 || math.Abs(got["web"]-0.031611) > 1e-9 {
		t.Errorf("an hour of one core costs train %.6f (gpu pool, want 1) and web %.6f (default, want 0.031611)", got["train"], got["web"])
	}
}
