package metrics

import (
	"time"

	"github.com/opshub/opshub/model"
)

// counterKey names one counter of one container.
type counterKey struct {
	ref model.Ref
	typ model.MetricType
}

type counterState struct {
	time    time.Time
	value   float64
	started time.Time
	seen    uint64 // the conversion round that last saw it
}

// Rater turns readings into samples: counters become per-second rates over
// the time since the previous reading of the same container, and gauges pass
// through. Percentages of requests and limits are derived here, so every
// source gets them the same way.
//
// A counter that went down, or whose container's StartedAt changed, was
// reset by a restart; its increase is then its whole new value, as in
// Prometheus' rate(). The first reading of a counter gives no rate.
//
// A Rater is not safe for concurrent use; the Scraper owns one.
type Rater struct {
	last  map[counterKey]counterState
	round uint64
}

// NewRater returns an empty Rater.
func NewRater() *Rater { return &Rater{last: map[counterKey]counterState{}} }

// Increase is how much a counter series grew over one interval, for the
// cumulative counters on /metrics.
type Increase struct {
	Ref   model.Ref
	Type  model.MetricType
	Delta float64
}

// Convert turns one round of readings into samples and counter increases.
// State of containers absent from the round is dropped, so a container that
// comes back starts afresh.
func (r *Rater) Convert(readings []Reading) ([]model.Sample, []Increase) {
	r.round++
	var samples []model.Sample
	var incs []Increase
	for i := range readings {
		rd := &readings[i]
		add := func(t model.MetricType, v float64) {
			samples = append(samples, model.Sample{Ref: rd.Ref, Type: t, Time: rd.Time, Value: v})
		}
		gauge := func(t model.MetricType, v Value) {
			if v.Valid {
				add(t, v.V)
			}
		}
		counter := func(t model.MetricType, v Value) (float64, bool) {
			if !v.Valid {
				return 0, false
			}
			rate, inc, ok := r.step(counterKey{rd.Ref, t}, rd.Time, rd.StartedAt, v.V)
			if !ok {
				return 0, false
			}
			add(t, rate)
			incs = append(incs, Increase{Ref: rd.Ref, Type: t, Delta: inc})
			return rate, true
		}

		if cores, ok := counter(model.MetricCPU, rd.CPUSeconds); ok {
			if percentOf(rd.CPURequest) {
				add(model.MetricCPURequestPercent, 100*cores/rd.CPURequest.V)
			}
			if percentOf(rd.CPULimit) {
				add(model.MetricCPULimitPercent, 100*cores/rd.CPULimit.V)
			}
		}
		counter(model.MetricNetworkRx, rd.NetworkRxBytes)
		counter(model.MetricNetworkTx, rd.NetworkTxBytes)
		counter(model.MetricDiskRead, rd.DiskReadBytes)
		counter(model.MetricDiskWrite, rd.DiskWriteBytes)

		gauge(model.MetricMemory, rd.MemoryWorkingSet)
		if rd.MemoryWorkingSet.Valid {
			if percentOf(rd.MemoryLimit) {
				add(model.MetricMemoryLimitPercent, 100*rd.MemoryWorkingSet.V/rd.MemoryLimit.V)
			}
			if percentOf(rd.MemoryRequest) {
				add(model.MetricMemoryRequestPercent, 100*rd.MemoryWorkingSet.V/rd.MemoryRequest.V)
			}
		}
		gauge(model.MetricMemoryRSS, rd.MemoryRSS)
		gauge(model.MetricFilesystemUsed, rd.FilesystemUsed)
		gauge(model.MetricRestarts, rd.Restarts)
		if percentOf(rd.CPULimit) {
			add(model.MetricCPULimit, rd.CPULimit.V)
		}
		if percentOf(rd.MemoryLimit) {
			add(model.MetricMemoryLimit, rd.MemoryLimit.V)
		}
		if percentOf(rd.CPURequest) {
			add(model.MetricCPURequest, rd.CPURequest.V)
		}
		if percentOf(rd.MemoryRequest) {
			add(model.MetricMemoryRequest, rd.MemoryRequest.V)
		}
		for _, v := range rd.Volumes {
			vol := func(t model.MetricType, x Value) {
				if x.Valid {
					samples = append(samples, model.Sample{Ref: rd.Ref, Type: t, Volume: v.Name, Time: rd.Time, Value: x.V})
				}
			}
			vol(model.MetricVolumeUsed, v.Used)
			vol(model.MetricVolumeCapacity, v.Capacity)
			vol(model.MetricVolumeInodes, v.Inodes)
			if v.Used.Valid && percentOf(v.Capacity) {
				vol(model.MetricVolumeUsedPercent, Known(100*v.Used.V/v.Capacity.V))
			}
		}
	}
	for k, st := range r.last {
		if st.seen != r.round {
			delete(r.last, k)
		}
	}
	return samples, incs
}

// step advances one counter and returns its rate and increase since the
// previous reading.
func (r *Rater) step(k counterKey, now, started time.Time, v float64) (rate, inc float64, ok bool) {
	prev, had := r.last[k]
	r.last[k] = counterState{time: now, value: v, started: started, seen: r.round}
	if !had {
		return 0, 0, false
	}
	dt := now.Sub(prev.time).Seconds()
	if dt <= 0 {
		return 0, 0, false
	}
	inc = v - prev.value
	if v < prev.value || !started.Equal(prev.started) {
		// Reset by a restart: the counter began again at zero.
		inc = v
	}
	return inc / dt, inc, true
}

func percentOf(v Value) bool { return v.Valid && v.V > 0 }
