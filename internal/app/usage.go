package app

import (
	"time"

	"github.com/opshub/opshub/autoscaler"
	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
)

// storeUsage reads each container's latest CPU and memory from the metrics
// store, for the autoscaler and for spend.
type storeUsage struct {
	store *metrics.Store
	// window is how far back a sample may be and still count as current:
	// two scrape intervals.
	window time.Duration
	now    func() time.Time
}

var _ autoscaler.UsageReader = storeUsage{}

// Usage implements autoscaler.UsageReader.
func (u storeUsage) Usage(ref model.Ref, r autoscaler.Resource) (autoscaler.Sample, bool) {
	typ := model.MetricCPU
	if r == autoscaler.Memory {
		typ = model.MetricMemory
	}
	now := u.now()
	last, ok := u.store.Latest(ref, typ, now.Add(-u.window), now)
	if !ok {
		return autoscaler.Sample{}, false
	}
	return autoscaler.Sample{Value: last.Value, Time: last.Time, Window: u.window / 2}, true
}
