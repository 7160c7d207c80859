package alerting

import (
	"fmt"
	"math"
	"time"

	"github.com/opshub/opshub/model"
)

// MetricWindows is what the usage detectors read: every container's (or
// volume's) samples of one metric type between from and to, oldest first.
// The metrics store answers it through a small adapter where opshub is wired
// together.
type MetricWindows interface {
	Window(typ model.MetricType, from, to time.Time) []model.MetricSeries
}

// UsageRule is the CPU or memory rule: Threshold percent of the limit,
// sustained for SustainedFor.
type UsageRule struct {
	Threshold    float64
	SustainedFor time.Duration
}

// VolumeRule is the volume rule: each threshold once per crossing, and a
// forecast of filling up within ForecastWithin (0 disables it).
type VolumeRule struct {
	Thresholds     []float64
	ForecastWithin time.Duration
}

// volumeHysteresis is how many points below a threshold usage must fall
// before the threshold's alert resolves, so a volume hovering at 75 % does
// not fire and resolve on every sample.
const volumeHysteresis = 5.0

// forecastHistory is how much usage history the forecast fits.
const forecastHistory = 6 * time.Hour

// forecastMinSpan is the least history a forecast needs.
const forecastMinSpan = 10 * time.Minute

// usageDetector turns metric windows into usage events. Like
// instanceDetector it is owned by the pipeline's event loop, and it keeps
// which alerts are firing so that each fires once per crossing.
type usageDetector struct {
	cpu, memory UsageRule
	volume      VolumeRule
	link        linkFunc
	firing      map[string]model.Event // by alert key
	// covered are firing volume thresholds that were passed together with
	// a higher one: only the highest was notified, so their firing and
	// resolving say nothing.
	covered map[string]bool
	// gone are instances that stopped, with when: their series stay in
	// the windows for a while and must not fire again (a new instance of
	// the same name has points after it).
	gone map[model.Ref]time.Time
}

func newUsageDetector(cpu, memory UsageRule, volume VolumeRule, link linkFunc) *usageDetector {
	if link == nil {
		link = func(model.Ref, string, time.Time) string { return "" }
	}
	return &usageDetector{cpu: cpu, memory: memory, volume: volume, link: link, firing: map[string]model.Event{}, covered: map[string]bool{}, gone: map[model.Ref]time.Time{}}
}

// Evaluate reads the windows it needs at now and returns the events whose
// state changed.
func (d *usageDetector) Evaluate(w MetricWindows, now time.Time) []model.Event {
	var out []model.Event
	longest := max(d.cpu.SustainedFor, d.memory.SustainedFor, time.Minute)
	for inst, at := range d.gone {
		if now.Sub(at) > longest+time.Minute {
			delete(d.gone, inst)
		}
	}
	for _, r := range []struct {
		typ              model.MetricType
		rule             UsageRule
		spike, sustained string
		what             string
	}{
		{model.MetricCPULimitPercent, d.cpu, model.EventContainerCPUSpike, model.EventContainerCPUSustained, "CPU"},
		{model.MetricMemoryLimitPercent, d.memory, model.EventContainerMemorySpike, model.EventContainerMemorySustained, "memory"},
	} {
		if r.rule.Threshold <= 0 {
			continue
		}
		span := max(r.rule.SustainedFor, time.Minute)
		for _, s := range w.Window(r.typ, now.Add(-span), now) {
			if d.ofGone(s) {
				continue
			}
			out = append(out, d.usage(s, r.rule, r.spike, r.sustained, r.what, now)...)
		}
	}
	if len(d.volume.Thresholds) > 0 || d.volume.ForecastWithin > 0 {
		for _, s := range w.Window(model.MetricVolumeUsedPercent, now.Add(-time.Minute), now) {
			if d.ofGone(s) {
				continue
			}
			out = append(out, d.volumeUsage(s, now)...)
		}
	}
	if d.volume.ForecastWithin > 0 {
		capacity := map[string]float64{}
		for _, s := range w.Window(model.MetricVolumeCapacity, now.Add(-forecastHistory), now) {
			if len(s.Points) > 0 {
				capacity[seriesKey(s)] = s.Points[len(s.Points)-1].Value
			}
		}
		for _, s := range w.Window(model.MetricVolumeUsed, now.Add(-forecastHistory), now) {
			out = append(out, d.forecast(s, capacity[seriesKey(s)], now)...)
		}
	}
	return out
}

func seriesKey(s model.MetricSeries) string {
	return s.Project + "/" + s.Service + "/" + s.Instance + "/" + s.Volume
}

// usage fires the spike event when the latest point reaches the threshold
// and the sustained event when every point of the last SustainedFor does
// (and the points cover that span); each resolves when usage drops below.
func (d *usageDetector) usage(s model.MetricSeries, rule UsageRule, spike, sustained, what string, now time.Time) []model.Event {
	if len(s.Points) == 0 {
		return nil
	}
	last := s.Points[len(s.Points)-1].Value
	above := last >= rule.Threshold
	var out []model.Event
	// Most series change nothing: the event (its summary and data) is
	// built only for a transition, which keeps a pass over a cluster's
	// containers cheap.
	if d.changes(containerKey(spike, s), above) {
		ev := d.event(s, spike, model.SeverityWarning, now)
		ev.Summary = fmt.Sprintf("%s of %s at %.0f%% of its limit (threshold %.0f%%)", what, s.Instance, last, rule.Threshold)
		ev.Data["value"], ev.Data["threshold"] = round1(last), rule.Threshold
		out = append(out, d.transition(ev, above)...)
	}

	sustainedKey := containerKey(sustained, s)
	held := above && rule.SustainedFor > 0
	if held {
		covered := false
		for _, p := range s.Points {
			if !p.Time.After(now.Add(-rule.SustainedFor)) {
				covered = true
			} else if p.Value < rule.Threshold {
				held = false
			}
		}
		held = held && covered
		if !covered {
			// Too little history to say it held: keep the current state.
			if _, firing := d.firing[sustainedKey]; firing {
				held = true
			}
		}
	}
	if !d.changes(sustainedKey, held) {
		return out
	}
	sev := d.event(s, sustained, model.SeverityCritical, now)
	sev.Summary = fmt.Sprintf("%s of %s above %.0f%% of its limit for %s (now %.0f%%)", what, s.Instance, rule.Threshold, rule.SustainedFor, last)
	sev.Data["value"], sev.Data["threshold"], sev.Data["sustainedFor"] = round1(last), rule.Threshold, rule.SustainedFor.String()
	return append(out, d.transition(sev, held)...)
}

// containerKey is alertKey of the event d.event builds for a container's
// series (its data names no resource).
func containerKey(name string, s model.MetricSeries) string {
	return name + "|" + s.Project + "/" + s.Service + "/" + s.Instance
}

// changes reports whether the alert under key would fire (on, not firing)
// or resolve (off, firing): whether transition would return an event.
func (d *usageDetector) changes(key string, on bool) bool {
	_, firing := d.firing[key]
	return on != firing
}

// volumeUsage fires volume.usage once per threshold crossed, and resolves
// it when usage falls volumeHysteresis points below that threshold. When
// one reading passes several thresholds (a volume found at 92 %), only the
// highest is notified: the lower ones are covered by it and stay quiet
// until they resolve.
func (d *usageDetector) volumeUsage(s model.MetricSeries, now time.Time) []model.Event {
	if len(s.Points) == 0 {
		return nil
	}
	pct := s.Points[len(s.Points)-1].Value
	var changed []model.Event
	highest := -1.0
	for _, t := range d.volume.Thresholds {
		ev := d.event(s, model.EventVolumeUsage, model.SeverityWarning, now)
		if t >= 90 {
			ev.Severity = model.SeverityCritical
		}
		ev.Data[DataResource] = fmt.Sprintf("%s@%g", s.Volume, t)
		ev.Data["volume"], ev.Data["value"], ev.Data["threshold"] = s.Volume, round1(pct), t
		ev.Summary = fmt.Sprintf("volume %s of %s is %.0f%% full (threshold %g%%)", s.Volume, s.Service, pct, t)
		_, firing := d.firing[alertKey(ev)]
		on := pct >= t || (firing && pct >= t-volumeHysteresis)
		for _, e := range d.transition(ev, on) {
			if e.Status == model.StatusFiring {
				highest = max(highest, t)
			}
			changed = append(changed, e)
		}
	}
	var out []model.Event
	for _, e := range changed {
		key := alertKey(e)
		switch {
		case e.Status == model.StatusFiring && e.Data["threshold"] != highest:
			d.covered[key] = true
		case e.Status == model.StatusResolved && d.covered[key]:
			delete(d.covered, key)
		default:
			out = append(out, e)
		}
	}
	return out
}

// forecast fits a line through up to 6 h of used bytes and fires
// volume.forecast-full when it reaches capacity within ForecastWithin.
func (d *usageDetector) forecast(s model.MetricSeries, capacity float64, now time.Time) []model.Event {
	ev := d.event(s, model.EventVolumeForecastFull, model.SeverityWarning, now)
	ev.Data[DataResource] = s.Volume
	ev.Data["volume"] = s.Volume
	full, ok := FullAt(s.Points, capacity)
	predicted := ok && !full.After(now.Add(d.volume.ForecastWithin))
	if predicted {
		ev.Data["fullAt"] = full.UTC().Format(time.RFC3339)
		ev.Data["capacityBytes"] = capacity
		ev.Summary = fmt.Sprintf("volume %s of %s will be full in about %s at the current rate", s.Volume, s.Service, full.Sub(now).Round(time.Minute))
	} else {
		ev.Summary = fmt.Sprintf("volume %s of %s is no longer predicted to fill up within %s", s.Volume, s.Service, d.volume.ForecastWithin)
	}
	return d.transition(ev, predicted)
}

// FullAt fits used bytes over time with least squares and returns when the
// line reaches capacity. ok is false without a capacity, with less than
// forecastMinSpan of history, or when usage is not growing.
func FullAt(points []model.MetricPoint, capacity float64) (time.Time, bool) {
	if capacity <= 0 || len(points) < 2 || points[len(points)-1].Time.Sub(points[0].Time) < forecastMinSpan {
		return time.Time{}, false
	}
	t0 := points[0].Time
	var n, sx, sy, sxx, sxy float64
	for _, p := range points {
		x := p.Time.Sub(t0).Seconds()
		n++
		sx += x
		sy += p.Value
		sxx += x * x
		sxy += x * p.Value
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return time.Time{}, false
	}
	slope := (n*sxy - sx*sy) / den // bytes per second
	if slope <= 0 {
		return time.Time{}, false
	}
	intercept := (sy - slope*sx) / n
	secs := (capacity - intercept) / slope
	if math.IsInf(secs, 0) || math.IsNaN(secs) || secs > float64(math.MaxInt64/int64(time.Second)) {
		return time.Time{}, false
	}
	return t0.Add(time.Duration(secs * float64(time.Second))), true
}

// transition returns ev as firing when on and not yet firing, as resolved
// when off and firing, and nothing otherwise.
func (d *usageDetector) transition(ev model.Event, on bool) []model.Event {
	key := alertKey(ev)
	_, firing := d.firing[key]
	switch {
	case on && !firing:
		d.firing[key] = ev
		return []model.Event{ev}
	case !on && firing:
		delete(d.firing, key)
		ev.Status = model.StatusResolved
		return []model.Event{ev}
	}
	return nil
}

func (d *usageDetector) event(s model.MetricSeries, name string, sev model.Severity, now time.Time) model.Event {
	ref := model.Ref{Project: s.Project, Service: s.Service, Instance: s.Instance, Container: s.Container}
	data := map[string]any{}
	if s.Container != "" {
		data["container"] = s.Container
	}
	if l := d.link(ref, "metrics", now); l != "" {
		data["link"] = l
	}
	return model.Event{Name: name, Status: model.StatusFiring, Severity: sev, Time: now,
		Project: s.Project, Service: s.Service, Instance: s.Instance, Data: data}
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// ofGone reports whether s is a series of an instance that stopped and
// has had no point since.
func (d *usageDetector) ofGone(s model.MetricSeries) bool {
	if s.Instance == "" || len(d.gone) == 0 || len(s.Points) == 0 {
		return false
	}
	at, ok := d.gone[model.Ref{Project: s.Project, Service: s.Service, Instance: s.Instance}]
	return ok && !s.Points[len(s.Points)-1].Time.After(at)
}

// forget drops what the detector holds about an instance that is gone,
// returning the resolved events of its alerts that were firing.
func (d *usageDetector) forget(inst model.Ref, now time.Time, summary string) []model.Event {
	d.gone[inst] = now
	var out []model.Event
	for key, ev := range d.firing {
		if ev.Instance == "" || ev.Instance != inst.Instance || ev.Service != inst.Service || ev.Project != inst.Project {
			continue
		}
		delete(d.firing, key)
		delete(d.covered, key)
		out = append(out, resolved(ev, now, summary))
	}
	return out
}
