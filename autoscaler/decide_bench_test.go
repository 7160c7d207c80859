package autoscaler

import (
	"testing"
	"time"
)

// BenchmarkDecidePass10k runs one decision pass over 10,000 policies of 4
// instances each, with stabilization history, as a controller would every
// 15 s. Target: under 100 ms per pass.
func BenchmarkDecidePass10k(b *testing.B) {
	const n = 10000
	p := policy(1, 20)
	p.Metrics = append(p.Metrics, Metric{Resource: Memory, TargetUtilization: 80})
	states := make([]State, n)
	podSets := make([][]Pod, n)
	for i := range n {
		ps := podsAt(4, float64(20+i%90))
		for j := range ps {
			ps[j].Usage[Memory] = Sample{Value: float64(i%700) * (1 << 20), Time: t0}
		}
		podSets[i] = ps
		for k := range 20 {
			states[i].Recommendations = append(states[i].Recommendations, Recommendation{Replicas: 4, Time: t0.Add(-time.Duration(k) * 15 * time.Second)})
		}
	}
	opts := DefaultOptions()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		now := t0.Add(time.Duration(i) * 15 * time.Second)
		for j := range n {
			d := Decide(opts, p, &states[j], now, 4, podSets[j])
			states[j].RecordScale(p.Behavior, now, d.Current, d.Desired)
		}
	}
}
