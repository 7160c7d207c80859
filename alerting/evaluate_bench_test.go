package alerting

import (
	"fmt"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// storedWindows answers every window with the series it holds, uncut: the
// benchmark measures the detector's pass, not a store's.
type storedWindows map[model.MetricType][]model.MetricSeries

func (s storedWindows) Window(typ model.MetricType, _, _ time.Time) []model.MetricSeries {
	return s[typ]
}

// BenchmarkEvaluate10k is one pass of the usage alerts over a cluster of
// 10,000 containers (CPU and memory against their limits, 5 minutes of
// samples every 15 s) and 400 claims (thresholds and the 6-hour forecast
// of a volume filling up), as the pipeline runs it every tick (5 s).
func BenchmarkEvaluate10k(b *testing.B) {
	now := t0.Add(6 * time.Hour)
	w := storedWindows{}
	series := func(typ model.MetricType, i int, volume string, span time.Duration, value func(k int) float64) model.MetricSeries {
		s := model.MetricSeries{Type: typ, Project: fmt.Sprintf("team-%03d", i%200), Service: fmt.Sprintf("service-%04d", i/10),
			Instance: fmt.Sprintf("service-%04d-7d9f8c6b5-%05d", i/10, i), Container: "app", Volume: volume}
		for k, at := 0, now.Add(-span); !at.After(now); k, at = k+1, at.Add(15*time.Second) {
			s.Points = append(s.Points, model.MetricPoint{Time: at, Value: value(k)})
		}
		return s
	}
	for i := range 10000 {
		// A few containers run hot, so that alerts fire and stay firing.
		hot := func(int) float64 { return float64(40 + i%55) }
		w[model.MetricCPULimitPercent] = append(w[model.MetricCPULimitPercent], series(model.MetricCPULimitPercent, i, "", 5*time.Minute, hot))
		w[model.MetricMemoryLimitPercent] = append(w[model.MetricMemoryLimitPercent], series(model.MetricMemoryLimitPercent, i, "", 5*time.Minute, hot))
	}
	for i := range 400 {
		used := func(k int) float64 { return float64(1<<30) + float64(k*i)*1e5 }
		w[model.MetricVolumeUsedPercent] = append(w[model.MetricVolumeUsedPercent], series(model.MetricVolumeUsedPercent, i, "data", time.Minute, func(int) float64 { return float64(i % 95) }))
		w[model.MetricVolumeUsed] = append(w[model.MetricVolumeUsed], series(model.MetricVolumeUsed, i, "data", forecastHistory, used))
		w[model.MetricVolumeCapacity] = append(w[model.MetricVolumeCapacity], series(model.MetricVolumeCapacity, i, "data", forecastHistory, func(int) float64 { return 10 << 30 }))
	}
	d := newUsageDetector(UsageRule{Threshold: 90, SustainedFor: 5 * time.Minute}, UsageRule{Threshold: 90, SustainedFor: 5 * time.Minute},
		VolumeRule{Thresholds: []float64{75, 90}, ForecastWithin: 24 * time.Hour}, nil)
	d.Evaluate(w, now)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d.Evaluate(w, now)
	}
}

// The pass decides from containerKey whether to build an event; the key
// must be the one the built event's alert has, or alerts would not fire or
// resolve.
func TestContainerKeyIsTheEventsAlertKey(t *testing.T) {
	d := newUsageDetector(UsageRule{}, UsageRule{}, VolumeRule{}, func(model.Ref, string, time.Time) string { return "http://x/" })
	s := ramp(model.MetricCPULimitPercent, "", t0, 95)
	for _, name := range []string{model.EventContainerCPUSpike, model.EventContainerMemorySustained} {
		if got, want := containerKey(name, s), alertKey(d.event(s, name, model.SeverityWarning, t0)); got != want {
			t.Errorf("containerKey = %q, the event's alert key %q", got, want)
		}
	}
}
