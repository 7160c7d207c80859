package autoscaler

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// pod is a ready instance started long ago, with a 1-core, 1 GiB request and
// the given CPU usage in cores (negative: no sample).
func pod(i int, cpu float64) Pod {
	p := Pod{
		Name:       fmt.Sprintf("web-%d", i),
		Ready:      true,
		ReadySince: t0.Add(-time.Hour),
		StartTime:  t0.Add(-time.Hour),
		Requests:   map[Resource]float64{CPU: 1, Memory: 1 << 30},
		Usage:      map[Resource]Sample{},
	}
	if cpu >= 0 {
		p.Usage[CPU] = Sample{Value: cpu, Time: t0.Add(-15 * time.Second), Window: 30 * time.Second}
	}
	return p
}

func pods(cpu ...float64) []Pod {
	var ps []Pod
	for i, c := range cpu {
		ps = append(ps, pod(i, c))
	}
	return ps
}

func pending(p Pod) Pod { p.Pending, p.Usage = true, map[Resource]Sample{}; return p }

func TestResourceReplicas(t *testing.T) {
	cpu50 := Metric{Resource: CPU, TargetUtilization: 50}
	young := pod(2, 1.0)
	young.StartTime = t0.Add(-time.Minute)
	young.ReadySince = t0.Add(-30 * time.Second)
	young.Usage[CPU] = Sample{Value: 1.0, Time: t0.Add(-40 * time.Second), Window: 30 * time.Second}
	youngSampledReady := young
	youngSampledReady.Usage = map[Resource]Sample{CPU: {Value: 1.0, Time: t0, Window: 30 * time.Second}}
	noRequest := pod(1, 0.5)
	noRequest.Requests = map[Resource]float64{}

	tests := []struct {
		name    string
		current int
		metric  Metric
		pods    []Pod
		want    int
		util    int
		invalid bool
		note    string
	}{
		{"inside the tolerance band nothing changes", 2, Metric{Resource: CPU, TargetUtilization: 70}, pods(0.75, 0.75), 2, 75, false, "within tolerance"},
		{"just outside the band scales", 2, Metric{Resource: CPU, TargetUtilization: 70}, pods(0.78, 0.78), 3, 78, false, ""},
		{"double the target doubles the pods", 2, cpu50, pods(1, 1), 4, 100, false, ""},
		{"half the target halves the pods", 4, cpu50, pods(0.25, 0.25, 0.25, 0.25), 2, 25, false, ""},
		{"scale up counts missing pods as 0%", 3, cpu50, pods(1, 1, -1), 4, 100, false, "1 instances without metrics counted at 0%"},
		{"scale down counts missing pods as 100%", 3, cpu50, pods(0.1, 0.1, -1), 3, 10, false, "1 instances without metrics counted at 100%"},
		{"scale down counts missing pods at the target when above 100%", 3, Metric{Resource: CPU, TargetUtilization: 200}, pods(0.2, 0.2, -1), 2, 20, false, "1 instances without metrics counted at 200%"},
		{"scale up counts unready pods as 0%", 3, cpu50, append(pods(1, 1), pending(pod(2, 0))), 4, 100, false, "1 unready instances counted at 0%"},
		{"scale down ignores unready pods", 3, cpu50, append(pods(0.1, 0.1), pending(pod(2, 0))), 1, 10, false, ""},
		{"a correction that flips the direction keeps the count", 2, cpu50, pods(0.6, -1), 2, 60, false, "1 instances without metrics counted at 0%; correction would flip the direction"},
		{"young pod sampled before it was ready is set aside", 3, cpu50, append(pods(1, 1), young), 4, 100, false, "1 unready instances counted at 0%"},
		{"young pod sampled while ready counts", 3, cpu50, append(pods(0.25, 0.25), youngSampledReady), 3, 50, false, "within tolerance"},
		{"missing request is an explained invalid metric", 2, cpu50, []Pod{pod(0, 0.5), noRequest}, 0, 0, true, ""},
		{"no pods is invalid", 2, cpu50, nil, 0, 0, true, ""},
		{"ignored pods are left out", 2, cpu50, []Pod{pod(0, 1), {Name: "old", Ignored: true, Requests: map[Resource]float64{CPU: 1}}}, 2, 100, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultOptions()
			got := ResourceReplicas(opts, opts.TolerancesFor(Behavior{}), t0, tt.current, tt.metric, tt.pods)
			if (got.Invalid != "") != tt.invalid {
				t.Fatalf("invalid = %q, want invalid=%v", got.Invalid, tt.invalid)
			}
			if got.Replicas != tt.want || got.Utilization != tt.util {
				t.Errorf("replicas %d at %d%%, want %d at %d%% (%+v)", got.Replicas, got.Utilization, tt.want, tt.util, got)
			}
			if tt.note != "" && got.Note != tt.note {
				t.Errorf("note %q, want %q", got.Note, tt.note)
			}
		})
	}
}
