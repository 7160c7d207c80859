package autoscaler

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// shuffled returns a copy of pods in a random order drawn from rng.
func shuffled(rng *rand.Rand, pods []Pod) []Pod {
	out := slices.Clone(pods)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// withRequest sets every pod's CPU request, in cores.
func withRequest(ps []Pod, cores float64) []Pod {
	for i := range ps {
		ps[i].Requests = map[Resource]float64{CPU: cores, Memory: 1 << 30}
	}
	return ps
}

// TestUtilizationIsExactWhateverTheOrder: usage and requests are summed as
// whole millicores, so the utilization and the decision do not depend on
// the order the instances come in. Summed as float64 cores in map order,
// 0.2 + 1.0 + 0.6 could come out as 1.7999999999999998 and 30 % as 29 %,
// and ten instances averaging 50 % against a 55 % target as 49 %, which
// scaled 10 -> 9.
func TestUtilizationIsExactWhateverTheOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 1))
	tests := []struct {
		name    string
		current int
		target  int
		pods    []Pod
		util    int
		want    int
	}{
		{"30 % is 30 %", 3, 30, withRequest(pods(0.2, 1.0, 0.6), 2), 30, 3},
		{"50 % of a 55 % target is within tolerance", 10, 55, pods(0.3, 0.7, 0.3, 0.7, 0.3, 0.7, 0.3, 0.7, 0.3, 0.7), 50, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy(1, 20)
			p.Metrics[0].TargetUtilization = tt.target
			for range 200 {
				d := Decide(DefaultOptions(), p, &State{}, t0, tt.current, shuffled(rng, tt.pods))
				if got := d.Metrics[0].Utilization; got != tt.util || d.Desired != tt.want {
					t.Fatalf("utilization %d%%, desired %d; want %d%%, %d (%s)", got, d.Desired, tt.util, tt.want, d.Reason)
				}
			}
		})
	}
}

// TestToleranceBoundaryKeepsTheCount: at exactly 110 % of a 100 % target the
// usage ratio is 1.1, which current upstream treats as within the 0.1
// tolerance (1 - 0.1 <= ratio <= 1 + 0.1). Taken as |1 - ratio| <= 0.1 in
// float64, 1 - 1.1 is a hair over 0.1 and the service scaled.
func TestToleranceBoundaryKeepsTheCount(t *testing.T) {
	p := policy(1, 20)
	p.Metrics[0].TargetUtilization = 100
	for _, tt := range []struct {
		name string
		pods []Pod
	}{
		{"110 %", pods(1.1, 1.1, 1.1)},
		{"90 %", pods(0.9, 0.9, 0.9)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(DefaultOptions(), p, &State{}, t0, 3, tt.pods)
			if d.Desired != 3 || d.Limit != LimitTolerance {
				t.Errorf("desired %d (%s: %s), want 3 within tolerance", d.Desired, d.Limit, d.Reason)
			}
		})
	}
}

// TestIgnoredInstancesNeedRequestsToo: upstream computes requests over
// every pod the selector matches, ignored ones included, so a pod being
// deleted without a request makes the metric invalid.
func TestIgnoredInstancesNeedRequestsToo(t *testing.T) {
	old := pod(2, 0.5)
	old.Ignored = true
	old.Requests = map[Resource]float64{Memory: 1 << 30}
	d := Decide(DefaultOptions(), policy(1, 10), &State{}, t0, 2, append(pods(0.1, 0.1), old))
	if d.Desired != 2 || d.Limit != LimitMissingRequest {
		t.Errorf("desired %d (%s: %s), want 2 kept for a missing request", d.Desired, d.Limit, d.Reason)
	}
}

// TestZeroRequestCountsAsZero: a request written as 0 is a request of 0,
// not a missing one: upstream adds it to the total like any other.
func TestZeroRequestCountsAsZero(t *testing.T) {
	ps := pods(0.5, 0.5, 0.0)
	ps[2].Requests = map[Resource]float64{CPU: 0, Memory: 1 << 30}
	// (500m + 500m + 0) / (1000m + 1000m + 0) = 50 %: exactly the target.
	d := Decide(DefaultOptions(), policy(1, 10), &State{}, t0, 3, ps)
	if d.Desired != 3 || d.Limit != LimitTolerance || d.Metrics[0].Utilization != 50 {
		t.Errorf("desired %d at %d%% (%s: %s), want 3 at 50%% within tolerance", d.Desired, d.Metrics[0].Utilization, d.Limit, d.Reason)
	}
}

// TestMissingFallbackIsWholeMillicores: on a scale-down an instance without
// a sample counts as using request × max(100, target) / 100, in integer
// millicores.
func TestMissingFallbackIsWholeMillicores(t *testing.T) {
	p := policy(1, 20)
	p.Metrics[0].TargetUtilization = 110
	// 3 × 333m with samples, one without; requests 1000m.
	// Ratio (999 × 100 / 3000 = 33 %) / 110 < 1: the missing one counts as
	// 1000 × 110 / 100 = 1100m: (999 + 1100) × 100 / 4000 = 52 %,
	// ratio 52/110 = 0.47: ceil(0.47 × 4) = 2.
	d := Decide(DefaultOptions(), p, &State{}, t0, 4, pods(0.333, 0.333, 0.333, -1))
	if m := d.Metrics[0]; m.Replicas != 2 || m.Utilization != 33 {
		t.Errorf("proposal %d at %d%%, want 2 at 33%% (%+v)", m.Replicas, m.Utilization, m)
	}
}

// TestPolicyTolerancesPerDirection: behavior.scaleUp.tolerance and
// behavior.scaleDown.tolerance replace the controller's 0.1 each in its own
// direction.
func TestPolicyTolerancesPerDirection(t *testing.T) {
	up, down := 0.05, 0.3
	p := policy(1, 20)
	p.Metrics[0].TargetUtilization = 100
	p.Behavior.ScaleUp.Tolerance = &up
	p.Behavior.ScaleDown.Tolerance = &down
	p.Behavior.ScaleDown.StabilizationWindow = 0
	for _, tt := range []struct {
		name  string
		pods  []Pod
		want  int
		limit Limit
	}{
		{"108 % leaves a 5 % scale-up band", pods(1.08, 1.08, 1.08), 4, LimitNone},
		{"105 % is on its edge", pods(1.05, 1.05, 1.05), 3, LimitTolerance},
		{"75 % is inside a 30 % scale-down band", pods(0.75, 0.75, 0.75), 3, LimitTolerance},
		{"65 % leaves it", pods(0.65, 0.65, 0.65), 2, LimitNone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(DefaultOptions(), p, &State{}, t0, 3, tt.pods)
			if d.Desired != tt.want || d.Limit != tt.limit {
				t.Errorf("desired %d (%s: %s), want %d (%s)", d.Desired, d.Limit, d.Reason, tt.want, tt.limit)
			}
		})
	}
	bad := -0.1
	p.Behavior.ScaleUp.Tolerance = &bad
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "behavior.scaleUp.tolerance must be a number greater than or equal to 0") {
		t.Errorf("a negative tolerance is not refused: %v", err)
	}
}

// TestQuantity: cpu in whole millicores, rounded up past float64 noise as a
// Kubernetes quantity's MilliValue rounds up; memory in whole bytes.
func TestQuantity(t *testing.T) {
	for _, tt := range []struct {
		r    Resource
		v    float64
		want int64
	}{
		{CPU, 0.3, 300},
		{CPU, 0.1 + 0.2, 300}, // 0.30000000000000004
		{CPU, 1.7999999999999998, 1800},
		{CPU, 0.2345678, 235},
		{CPU, 0.000000001, 1},
		{CPU, 0, 0},
		{CPU, -1, 0},
		{Memory, 1 << 30, 1 << 30},
		{Memory, 1536.2, 1537},
		{Memory, 0.3 * (1 << 30), 322122548}, // 322122547.2 bytes
	} {
		if got := Quantity(tt.r, tt.v); got != tt.want {
			t.Errorf("Quantity(%s, %v) = %d, want %d", tt.r, tt.v, got, tt.want)
		}
	}
}
