package metrics

import (
	"math"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

func TestRaterRates(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	start := t0.Add(-time.Hour)
	ref := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}
	at := func(sec int, cpu float64, started time.Time) Reading {
		return Reading{Ref: ref, Time: t0.Add(time.Duration(sec) * time.Second), StartedAt: started,
			CPUSeconds: Known(cpu), CPULimit: Known(2), CPURequest: Known(0.5)}
	}
	tests := []struct {
		name   string
		rounds []Reading
		want   []float64 // cpu rate after each round; NaN = no sample
	}{
		{"first reading gives no rate", []Reading{at(0, 100, start)}, []float64{math.NaN()}},
		{"steady half a core", []Reading{at(0, 100, start), at(15, 107.5, start), at(30, 115, start)}, []float64{math.NaN(), 0.5, 0.5}},
		{"counter went down: reset, increase is the new value", []Reading{at(0, 100, start), at(15, 3, start)}, []float64{math.NaN(), 0.2}},
		{"container restarted: counter began again although it is higher", []Reading{at(0, 1, start), at(15, 4.5, t0.Add(5*time.Second))}, []float64{math.NaN(), 0.3}},
		{"same time twice gives no rate", []Reading{at(0, 100, start), at(0, 101, start)}, []float64{math.NaN(), math.NaN()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRater()
			for i, rd := range tc.rounds {
				samples, _ := r.Convert([]Reading{rd})
				got, ok := find(samples, model.MetricCPU)
				if math.IsNaN(tc.want[i]) {
					if ok {
						t.Errorf("round %d: cpu %v, want no sample", i, got)
					}
					continue
				}
				if !ok || math.Abs(got-tc.want[i]) > 1e-9 {
					t.Errorf("round %d: cpu %v (present %v), want %v", i, got, ok, tc.want[i])
				}
				if lim, _ := find(samples, model.MetricCPULimitPercent); math.Abs(lim-100*tc.want[i]/2) > 1e-9 {
					t.Errorf("round %d: cpu-limit-percent %v, want %v", i, lim, 100*tc.want[i]/2)
				}
				if req, _ := find(samples, model.MetricCPURequestPercent); math.Abs(req-100*tc.want[i]/0.5) > 1e-9 {
					t.Errorf("round %d: cpu-request-percent %v, want %v", i, req, 100*tc.want[i]/0.5)
				}
			}
		})
	}
}

func TestRaterForgetsAbsentContainers(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ref := model.Ref{Project: "p", Service: "s", Instance: "i", Container: "c"}
	r := NewRater()
	r.Convert([]Reading{{Ref: ref, Time: t0, CPUSeconds: Known(10)}})
	r.Convert(nil) // the container was gone for a round
	samples, _ := r.Convert([]Reading{{Ref: ref, Time: t0.Add(30 * time.Second), CPUSeconds: Known(40)}})
	if v, ok := find(samples, model.MetricCPU); ok {
		t.Errorf("a container back after a gap got a rate %v from before the gap", v)
	}
}

func TestRaterGaugesAndVolumes(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ref := model.Ref{Project: "p", Service: "s"}
	r := NewRater()
	samples, _ := r.Convert([]Reading{
		{Ref: ref, Time: t0, MemoryWorkingSet: Known(256), MemoryLimit: Known(1024), Restarts: Known(3),
			Volumes: []VolumeReading{{Name: "data", Used: Known(750), Capacity: Known(1000), Inodes: Known(12)}}},
	})
	want := map[model.MetricType]float64{
		model.MetricMemory: 256, model.MetricMemoryLimitPercent: 25, model.MetricMemoryLimit: 1024, model.MetricRestarts: 3,
		model.MetricVolumeUsed: 750, model.MetricVolumeCapacity: 1000, model.MetricVolumeInodes: 12, model.MetricVolumeUsedPercent: 75,
	}
	for typ, v := range want {
		if got, ok := find(samples, typ); !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", typ, got, ok, v)
		}
	}
	if _, ok := find(samples, model.MetricNetworkRx); ok {
		t.Error("network-rx reported though the source did not measure it")
	}
}

func find(samples []model.Sample, typ model.MetricType) (float64, bool) {
	for _, s := range samples {
		if s.Type == typ {
			return s.Value, true
		}
	}
	return 0, false
}
