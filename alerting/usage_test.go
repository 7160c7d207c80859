package alerting

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// fakeWindows serves fixed series by type, cut to the asked window.
type fakeWindows map[model.MetricType][]model.MetricSeries

func (f fakeWindows) Window(typ model.MetricType, from, to time.Time) []model.MetricSeries {
	var out []model.MetricSeries
	for _, s := range f[typ] {
		c := s
		c.Points = nil
		for _, p := range s.Points {
			if !p.Time.Before(from) && !p.Time.After(to) {
				c.Points = append(c.Points, p)
			}
		}
		out = append(out, c)
	}
	return out
}

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// ramp is a series with one point every 15 s from start, values in order.
func ramp(typ model.MetricType, volume string, start time.Time, values ...float64) model.MetricSeries {
	s := model.MetricSeries{Type: typ, Project: "demo", Service: "web", Instance: "web-1", Container: "web", Volume: volume}
	for i, v := range values {
		s.Points = append(s.Points, model.MetricPoint{Time: start.Add(time.Duration(i) * 15 * time.Second), Value: v})
	}
	return s
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func names(evs []model.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Name+":"+e.Status)
	}
	return out
}

func TestCPUSpikeAndSustained(t *testing.T) {
	rule := UsageRule{Threshold: 90, SustainedFor: time.Minute}
	tests := []struct {
		name   string
		values []float64 // every 15 s, the last one at "now"
		want   []string
	}{
		{"below the threshold", repeat(50, 8), nil},
		{"one high sample is a spike", append(repeat(50, 7), 95), []string{"container.cpu-spike:firing"}},
		{"a minute above is sustained", repeat(95, 8), []string{"container.cpu-spike:firing", "container.cpu-sustained:firing"}},
		{"a dip inside the minute is not sustained", append(append(repeat(95, 5), 40), 95, 95), []string{"container.cpu-spike:firing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newUsageDetector(rule, UsageRule{}, VolumeRule{}, nil)
			start := t0
			now := start.Add(time.Duration(len(tt.values)-1) * 15 * time.Second)
			w := fakeWindows{model.MetricCPULimitPercent: {ramp(model.MetricCPULimitPercent, "", start, tt.values...)}}
			got := names(d.Evaluate(w, now))
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
			// The same state again fires nothing new.
			if again := d.Evaluate(w, now); len(again) != 0 {
				t.Errorf("second evaluation gave %v, want nothing", names(again))
			}
		})
	}
}

func TestSpikeResolvesWhenUsageDrops(t *testing.T) {
	d := newUsageDetector(UsageRule{Threshold: 90}, UsageRule{}, VolumeRule{}, nil)
	high := fakeWindows{model.MetricCPULimitPercent: {ramp(model.MetricCPULimitPercent, "", t0, 95)}}
	low := fakeWindows{model.MetricCPULimitPercent: {ramp(model.MetricCPULimitPercent, "", t0.Add(15*time.Second), 30)}}
	d.Evaluate(high, t0)
	got := d.Evaluate(low, t0.Add(15*time.Second))
	if len(got) != 1 || got[0].Status != model.StatusResolved || got[0].Name != model.EventContainerCPUSpike {
		t.Fatalf("got %v, want the spike resolved", names(got))
	}
}

func TestVolumeThresholdsOncePerCrossingWithHysteresis(t *testing.T) {
	d := newUsageDetector(UsageRule{}, UsageRule{}, VolumeRule{Thresholds: []float64{75, 90}}, nil)
	steps := []struct {
		pct  float64
		want []string
	}{
		{70, nil},
		{76, []string{"volume.usage:firing"}}, // 75 crossed
		{78, nil},                             // still above: once per crossing
		{72, nil},                             // below 75 but within the hysteresis
		{91, []string{"volume.usage:firing"}}, // 90 crossed
		{69, []string{"volume.usage:resolved", "volume.usage:resolved"}},
		{76, []string{"volume.usage:firing"}}, // a new crossing fires again
		{69, []string{"volume.usage:resolved"}},
		// Found at 92 %: one notification, for the 90 % threshold; the
		// 75 % one it covers stays quiet, also when both resolve.
		{92, []string{"volume.usage:firing@90"}},
		{80, []string{"volume.usage:resolved@90"}},
		{40, nil},
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i) * 15 * time.Second)
		w := fakeWindows{model.MetricVolumeUsedPercent: {ramp(model.MetricVolumeUsedPercent, "data", now, st.pct)}}
		evs := d.Evaluate(w, now)
		got := names(evs)
		if len(got) != len(st.want) {
			t.Fatalf("step %d at %g%%: got %v, want %v", i, st.pct, got, st.want)
		}
		for j := range got {
			if want, threshold, ok := strings.Cut(st.want[j], "@"); ok {
				got[j] += "@" + fmt.Sprint(evs[j].Data["threshold"])
				st.want[j] = want + "@" + threshold
			}
			if got[j] != st.want[j] {
				t.Fatalf("step %d at %g%%: got %v, want %v", i, st.pct, got, st.want)
			}
		}
	}
}

func TestVolumeForecastFull(t *testing.T) {
	const gib = 1 << 30
	tests := []struct {
		name     string
		perStep  float64 // bytes added every 15 s
		steps    int
		capacity float64
		want     bool
	}{
		{"growing fast fills within a day", 1 << 20, 4 * 60, gib, true},
		{"growing slowly does not", 1 << 10, 4 * 60, gib, false},
		{"flat never fills", 0, 4 * 60, gib, false},
		{"too little history says nothing", 1 << 24, 20, gib, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newUsageDetector(UsageRule{}, UsageRule{}, VolumeRule{ForecastWithin: 24 * time.Hour}, nil)
			vals := make([]float64, tt.steps)
			for i := range vals {
				vals[i] = 100<<20 + float64(i)*tt.perStep
			}
			now := t0.Add(time.Duration(tt.steps-1) * 15 * time.Second)
			w := fakeWindows{
				model.MetricVolumeUsed:     {ramp(model.MetricVolumeUsed, "data", t0, vals...)},
				model.MetricVolumeCapacity: {ramp(model.MetricVolumeCapacity, "data", now, tt.capacity)},
			}
			got := d.Evaluate(w, now)
			if fired := len(got) == 1 && got[0].Name == model.EventVolumeForecastFull; fired != tt.want {
				t.Fatalf("got %v, want forecast-full %v", names(got), tt.want)
			}
		})
	}
}
