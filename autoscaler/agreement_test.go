package autoscaler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The agreement corpus: the cases of the upstream HPA replica calculator
// (kubernetes/kubernetes pkg/controller/podautoscaler, replica_calculator
// and its tests, as of the release with per-direction tolerances),
// transcribed into upstream's own terms — pod phases, Ready conditions,
// start times, per-container requests and usage in milli-units — with
// upstream's expected answers. Each case is translated into opshub's Pods
// exactly as a Kubernetes source would translate the pods, and opshub must
// give the same replica count and utilization, or fail where upstream
// returns an error. Upstream's resource tests are CPU-only; the memory cases
// apply the same code paths to memory (where readiness does not set samples
// aside), with the answers worked out from upstream's code by hand and
// written next to each case.

// Upstream's testing settings (defaultTesting* in replica_calculator.go).
var upstreamOpts = Options{Tolerance: 0.1, CPUInitializationPeriod: 2 * time.Minute, InitialReadinessDelay: 10 * time.Second}

// upstreamZero is where upstream's zero time.Time lands: the fixtures leave
// start times, Ready transitions and sample times at the zero time, which
// upstream compares as a real instant long ago. opshub reads a zero
// StartTime or ReadySince as "not started" and "no Ready condition", so the
// zero time is moved to an instant equally far from every other time the
// case uses.
var upstreamZero = t0.AddDate(-10, 0, 0)

// upTime is a time in a fixture: the zero time, or an offset from now.
type upTime struct {
	zero bool
	rel  time.Duration
}

var zeroTime = upTime{zero: true}

func ago(d time.Duration) upTime { return upTime{rel: -d} }

func (u upTime) at(now time.Time) time.Time {
	if u.zero {
		return upstreamZero
	}
	return now.Add(u.rel)
}

// upPod is one pod as upstream's tests build it.
type upPod struct {
	name    string
	phase   string // Running (empty), Pending, Failed or Succeeded
	deleted bool   // has a deletion timestamp
	// ready is the Ready condition's status, True or False; empty means the
	// pod has no Ready condition. transition is its lastTransitionTime.
	ready      string
	transition upTime
	// start is status.startTime; noStart leaves it nil.
	start   upTime
	noStart bool
	// hasMetric: the metrics API returned a sample of value usage, taken at
	// sampled over window.
	hasMetric bool
	usage     int64
	sampled   upTime
	window    time.Duration
	// request is the pod's request (summed over its containers); noRequest:
	// a container has none.
	request   int64
	noRequest bool
}

// pod translates an upstream pod into opshub's terms: Pending phase is
// Pending, a deletion timestamp or Failed phase is Ignored, the Ready
// condition gives Ready and ReadySince (none: zero ReadySince), values in
// milli-units (cpu) or bytes (memory) become cores or bytes.
func (u upPod) pod(r Resource, now time.Time) Pod {
	p := Pod{
		Name:     u.name,
		Pending:  u.phase == "Pending",
		Ignored:  u.deleted || u.phase == "Failed",
		Ready:    u.ready == "True",
		Requests: map[Resource]float64{},
		Usage:    map[Resource]Sample{},
	}
	if u.ready != "" {
		p.ReadySince = u.transition.at(now)
	}
	if !u.noStart {
		p.StartTime = u.start.at(now)
	}
	scale := 1.0
	if r == CPU {
		scale = 1000
	}
	if !u.noRequest {
		p.Requests[r] = float64(u.request) / scale
	}
	if u.hasMetric {
		p.Usage[r] = Sample{Value: float64(u.usage) / scale, Time: u.sampled.at(now), Window: u.window}
	}
	return p
}

// calcCase is a case of upstream's replicaCalcTestCase, with its compact
// per-pod fields: readiness "FTT" (default True), start "hcc" (hot: now,
// cool: 3 minutes ago, 0 or default: the zero time), phase "RRFF" (Running,
// Pending, Failed; longer than current adds pods), deleted "0011". Every pod
// has two containers; requests are per container (both the same) and
// levels per pod, per container, in milli-units (bytes for memory). A pod
// past the end of requests has none; past the end of levels, no metrics.
type calcCase struct {
	name      string
	resource  Resource
	container int // 1 or 2: the HPA targets that container only
	current   int
	target    int
	tol       *Tolerances
	requests  []int64
	levels    [][]int64
	readiness string
	start     string
	phase     string
	deleted   string

	// Upstream's answer: replicas and utilization, or an error ("missing
	// request" or any other).
	replicas int
	util     int
	err      string
}

// both makes the per-container levels of pods whose two containers use the
// same amount (upstream's makePodMetricLevels).
func both(levels ...int64) [][]int64 {
	out := make([][]int64, len(levels))
	for i, l := range levels {
		out[i] = []int64{l, l}
	}
	return out
}

// same makes n identical per-container requests.
func same(n int, v int64) []int64 { return slices.Repeat([]int64{v}, n) }

func (c calcCase) upPods() []upPod {
	n := max(c.current, len(c.phase))
	at := func(s string, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	var ps []upPod
	for i := range n {
		u := upPod{name: fmt.Sprintf("test-pod-%d", i), ready: "True", transition: zeroTime, start: zeroTime, sampled: zeroTime, window: time.Minute}
		if at(c.readiness, i) == 'F' {
			u.ready = "False"
		}
		switch at(c.start, i) {
		case 'h':
			u.start = ago(0)
		case 'c':
			u.start = ago(3 * time.Minute)
		}
		switch at(c.phase, i) {
		case 'P':
			u.phase = "Pending"
		case 'F':
			u.phase = "Failed"
		}
		u.deleted = at(c.deleted, i) == '1'
		if i < len(c.requests) {
			u.request = c.requests[i]
			if c.container == 0 {
				u.request *= 2
			}
		} else {
			u.noRequest = true
		}
		if i < len(c.levels) {
			// A pod's metrics count only if every container reported one
			// (upstream's metrics client drops the pod otherwise).
			switch l := c.levels[i]; {
			case c.container > 0 && c.container <= len(l):
				u.hasMetric, u.usage = true, l[c.container-1]
			case c.container == 0 && len(l) == 2:
				u.hasMetric, u.usage = true, l[0]+l[1]
			}
		}
		ps = append(ps, u)
	}
	return ps
}

func (c calcCase) pods(now time.Time) []Pod {
	r := c.resourceName()
	var ps []Pod
	for _, u := range c.upPods() {
		ps = append(ps, u.pod(r, now))
	}
	return ps
}

func (c calcCase) resourceName() Resource {
	if c.resource == "" {
		return CPU
	}
	return c.resource
}

func (c calcCase) tolerances() Tolerances {
	if c.tol != nil {
		return *c.tol
	}
	return Tolerances{ScaleDown: 0.1, ScaleUp: 0.1}
}

func (c calcCase) run(pods []Pod) Proposal {
	return ResourceReplicas(upstreamOpts, c.tolerances(), t0, c.current, Metric{Resource: c.resourceName(), TargetUtilization: c.target}, pods)
}

// agrees compares opshub's proposal with upstream's answer.
func (c calcCase) agrees(p Proposal) (bool, string) {
	switch {
	case c.err != "" && p.Invalid == "":
		return false, fmt.Sprintf("proposed %d at %d%%, upstream fails (%s)", p.Replicas, p.Utilization, c.err)
	case c.err != "":
		if (c.err == "missing request") != p.MissingRequest {
			return false, fmt.Sprintf("invalid for %q, upstream fails with %s", p.Invalid, c.err)
		}
		return true, ""
	case p.Invalid != "":
		return false, fmt.Sprintf("invalid (%s), upstream proposes %d at %d%%", p.Invalid, c.replicas, c.util)
	case p.Replicas != c.replicas || p.Utilization != c.util:
		return false, fmt.Sprintf("proposed %d at %d%%, upstream %d at %d%% (%s)", p.Replicas, p.Utilization, c.replicas, c.util, p.Note)
	}
	return true, ""
}

func tolerances(down, up float64) *Tolerances { return &Tolerances{ScaleDown: down, ScaleUp: up} }

const (
	mi = 1 << 20 // bytes in a MiB
)

// upstreamCalcCases are TestReplicaCalcResourceScale and the other
// GetResourceReplicas tests of replica_calculator_test.go, then the memory
// cases.
var upstreamCalcCases = []calcCase{
	// TestReplicaCalcResourceScale.
	{name: "scale up", current: 3, target: 30, requests: same(3, 1000), levels: both(300, 500, 700), replicas: 5, util: 50},
	{name: "scale up: container metric", container: 2, current: 3, target: 30, requests: same(3, 1000), levels: [][]int64{{1000, 300}, {1000, 500}, {1000, 700}}, replicas: 5, util: 50},
	{name: "scale up: unready pod scales less", current: 3, target: 30, readiness: "FTT", requests: same(3, 1000), levels: both(300, 500, 700), replicas: 4, util: 60},
	{name: "scale up: hot-CPU container scales less", container: 2, current: 3, target: 30, start: "hcc", requests: same(3, 1000), levels: [][]int64{{0, 300}, {0, 500}, {0, 700}}, replicas: 4, util: 60},
	{name: "scale up: hot-CPU pod scales less", current: 3, target: 30, start: "hcc", requests: same(3, 1000), levels: both(300, 500, 700), replicas: 4, util: 60},
	{name: "no scale: unready pods ignored", current: 3, target: 30, readiness: "TFF", requests: same(3, 1000), levels: both(400, 500, 700), replicas: 3, util: 40},
	{name: "no scale: hot-CPU pods ignored", current: 3, target: 30, readiness: "TFF", start: "chh", requests: same(3, 1000), levels: both(400, 500, 700), replicas: 3, util: 40},
	{name: "scale up: failed pods ignored", current: 2, target: 30, readiness: "TTFF", phase: "RRFF", requests: same(4, 1000), levels: both(500, 700), replicas: 4, util: 60},
	{name: "scale up: failed pods ignored with missing container metric", container: 2, current: 2, target: 30, readiness: "TTFF", phase: "RRFF", requests: same(4, 1000), levels: [][]int64{{1000, 500}, {9000, 700}, {1000}, {9000}}, replicas: 4, util: 60},
	{name: "scale up: container metrics with failed pods ignored", container: 2, current: 2, target: 30, readiness: "TTFF", phase: "RRFF", requests: same(4, 1000), levels: [][]int64{{1000, 500}, {9000, 700}}, replicas: 4, util: 60},
	{name: "scale up: pods being deleted are ignored", current: 2, target: 30, readiness: "TTFF", phase: "RRRR", deleted: "0011", requests: same(4, 1000), levels: both(500, 700), replicas: 4, util: 60},
	{name: "scale up: container metrics with pods being deleted ignored", container: 1, current: 2, target: 30, readiness: "TTFF", phase: "RRRR", deleted: "0011", requests: same(4, 1000), levels: both(500, 700), replicas: 4, util: 60},
	{name: "scale down", current: 5, target: 50, requests: same(5, 1000), levels: both(100, 300, 500, 250, 250), replicas: 3, util: 28},
	{name: "scale down: container metric", container: 2, current: 5, target: 50, requests: same(5, 1000), levels: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}}, replicas: 3, util: 28},
	{name: "scale down: exclude unready pods", current: 5, target: 50, readiness: "TTTFF", requests: same(5, 1000), levels: both(100, 300, 500, 250, 250), replicas: 2, util: 30},
	{name: "scale down: container metric excludes unready pods", container: 2, current: 5, target: 50, readiness: "TTTFF", requests: same(5, 1000), levels: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}}, replicas: 2, util: 30},
	{name: "scale down: exclude unscheduled pods", current: 5, target: 50, readiness: "TFFFF", phase: "RPPPP", requests: same(5, 1000), levels: both(100), replicas: 1, util: 10},
	{name: "scale down: container metric excludes unscheduled pods", container: 2, current: 5, target: 50, readiness: "TFFFF", phase: "RPPPP", requests: same(5, 1000), levels: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}}, replicas: 1, util: 10},
	{name: "scale down: ignore hot-CPU pods", current: 5, target: 50, start: "ccchh", requests: same(5, 1000), levels: both(100, 300, 500, 250, 250), replicas: 2, util: 30},
	{name: "scale down: container metric ignores hot-CPU pods", container: 2, current: 5, target: 50, start: "ccchh", requests: same(5, 1000), levels: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 1000}, {1000, 1000}}, replicas: 2, util: 30},
	{name: "scale down: failed pods ignored", current: 5, target: 50, readiness: "TTTTTFF", phase: "RRRRRFF", requests: same(7, 1000), levels: both(100, 300, 500, 250, 250), replicas: 3, util: 28},
	{name: "scale down: container metric with failed pods ignored", container: 2, current: 5, target: 50, readiness: "TTTTTFF", phase: "RRRRRFF", requests: same(7, 1000), levels: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}}, replicas: 3, util: 28},
	{name: "scale down: pods being deleted are ignored", current: 5, target: 50, readiness: "TTTTTFF", phase: "RRRRRRR", deleted: "0000011", requests: same(7, 1000), levels: both(100, 300, 500, 250, 250), replicas: 3, util: 28},
	{name: "scale down: still-running pods being deleted are ignored", container: 2, current: 5, target: 50, readiness: "TTTTTFF", phase: "RRRRRRR", deleted: "0000011", requests: same(7, 1000), levels: [][]int64{{1000, 100}, {1000, 300}, {1000, 500}, {1000, 250}, {1000, 250}}, replicas: 3, util: 28},

	// TestReplicaCalcDisjointResourcesMetrics: the only metrics are of a pod
	// that no longer exists.
	{name: "disjoint metrics", current: 1, target: 100, requests: same(1, 1000), err: "no metrics returned matched known pods"},
	// TestReplicaCalcTolerance and TestReplicaCalcConfigurableTolerance.
	{name: "tolerance", current: 3, target: 100, requests: []int64{900, 1000, 1100}, levels: both(1010, 1030, 1020), replicas: 3, util: 102},
	{name: "outside of a 0% tolerance", tol: tolerances(0, 0), current: 3, target: 100, requests: []int64{900, 1000, 1100}, levels: both(909, 1010, 1111), replicas: 4, util: 101},
	{name: "within a 200% scale-up tolerance", tol: tolerances(0.1, 2), current: 3, target: 100, requests: []int64{900, 1000, 1100}, levels: both(1890, 1910, 1900), replicas: 3, util: 190},
	{name: "outside 8% scale-up tolerance (and superfluous scale-down tolerance)", tol: tolerances(2, 0.08), current: 3, target: 100, requests: []int64{900, 1000, 1100}, levels: both(1100, 1080, 1090), replicas: 4, util: 109},
	{name: "within a 36% scale-down tolerance", tol: tolerances(0.36, 0.1), current: 3, target: 100, requests: []int64{900, 1000, 1100}, levels: both(660, 640, 650), replicas: 3, util: 65},
	{name: "outside a 34% scale-down tolerance", tol: tolerances(0.34, 0.1), current: 3, target: 100, requests: []int64{900, 1000, 1100}, levels: both(660, 640, 650), replicas: 2, util: 65},
	// TestReplicaCalcSuperfluousMetrics: upstream also receives metrics of
	// two pods that do not exist and drops them; opshub only measures its
	// instances, so they have no counterpart here.
	{name: "superfluous metrics", current: 4, target: 100, requests: same(4, 1000), levels: both(4000, 9500, 3000, 7000), replicas: 24, util: 587},
	// TestReplicaCalcMissingMetrics and the empty and missing-request cases.
	{name: "missing metrics", current: 4, target: 100, requests: same(4, 1000), levels: both(400, 95), replicas: 3, util: 24},
	{name: "empty metrics", current: 4, target: 100, requests: same(3, 1000), err: "no metrics returned from resource metrics API"},
	{name: "empty CPU request", current: 1, target: 100, levels: both(200), err: "missing request"},
	{name: "missing metrics, no change: equal", current: 2, target: 100, requests: same(2, 1000), levels: both(1000), replicas: 2, util: 100},
	{name: "missing metrics, no change: greater", current: 2, target: 100, requests: same(2, 1000), levels: both(1900), replicas: 2, util: 190},
	{name: "missing metrics, no change: less", current: 2, target: 100, requests: same(2, 1000), levels: both(600), replicas: 2, util: 60},
	{name: "missing metrics, unready: no change", current: 3, target: 50, readiness: "FTT", requests: same(3, 1000), levels: both(100, 450), replicas: 3, util: 45},
	{name: "missing metrics, hot CPU: no change", current: 3, target: 50, start: "hcc", requests: same(3, 1000), levels: both(100, 450), replicas: 3, util: 45},
	{name: "missing metrics, unready: scale up", current: 3, target: 50, readiness: "FTT", requests: same(3, 1000), levels: both(100, 2000), replicas: 4, util: 200},
	{name: "missing metrics, hot CPU: scale up", current: 3, target: 50, readiness: "FTT", start: "hcc", requests: same(3, 1000), levels: both(100, 2000), replicas: 4, util: 200},
	{name: "missing metrics, unready: scale down", current: 4, target: 50, readiness: "FTTT", requests: same(4, 1000), levels: both(100, 100, 100), replicas: 3, util: 10},
	{name: "missing metrics, scale down, target over 100%", current: 4, target: 300, readiness: "FTTT", requests: []int64{1000, 1000, 2000, 2000}, levels: both(200, 100, 100), replicas: 2, util: 6},
	{name: "during a rolling update with max surge", current: 2, target: 50, phase: "RRR", requests: same(3, 1000), levels: both(100, 100), replicas: 2, util: 10},
	// TestReplicaCalcComputedToleranceAlgImplementation: 10 pods at 150m
	// of about 300m; a target of 56 % just leaves the tolerance, 55 % just
	// stays inside it.
	{name: "computed tolerance: scale down", current: 10, target: 56, requests: []int64{400, 200, 310, 290, 302, 298, 301, 299, 300, 300}, levels: both(150, 150, 150, 150, 150, 150, 150, 150, 150, 150), replicas: 9, util: 50},
	{name: "computed tolerance: no change", current: 10, target: 55, requests: []int64{400, 200, 310, 290, 302, 298, 301, 299, 300, 300}, levels: both(150, 150, 150, 150, 150, 150, 150, 150, 150, 150), replicas: 10, util: 50},

	// Memory, derived from upstream's code: groupPods applies readiness and
	// start-up rules to cpu only, so a running memory sample counts whatever
	// the Ready condition; Pending, failed and deleted pods and the missing
	// and unready corrections are as for cpu. Requests 1000Mi per container.
	//   (300+500+700) × 100 / 3000 = 50 %; 50/30 × 3 = 5.
	{name: "memory: scale up", resource: Memory, current: 3, target: 30, requests: same(3, 1000*mi), levels: both(300*mi, 500*mi, 700*mi), replicas: 5, util: 50},
	//   The unready pod's sample counts for memory: as above.
	{name: "memory: unready pods count", resource: Memory, current: 3, target: 30, readiness: "FTT", requests: same(3, 1000*mi), levels: both(300*mi, 500*mi, 700*mi), replicas: 5, util: 50},
	//   So does a pod that just started.
	{name: "memory: hot pods count", resource: Memory, current: 3, target: 30, start: "hcc", requests: same(3, 1000*mi), levels: both(300*mi, 500*mi, 700*mi), replicas: 5, util: 50},
	//   Two unready pods still count: (400+500+700)/3000 = 53 %;
	//   53/30 × 3 = 5.3 → 6 (for cpu upstream keeps 3).
	{name: "memory: unready pods are not ignored", resource: Memory, current: 3, target: 30, readiness: "TFF", requests: same(3, 1000*mi), levels: both(400*mi, 500*mi, 700*mi), replicas: 6, util: 53},
	//   Pending pods are unready for memory too: 100/1000 = 10 %, ratio 0.2,
	//   scaling down ignores them: ceil(0.2 × 1) = 1.
	{name: "memory: pending pods excluded on scale down", resource: Memory, current: 5, target: 50, readiness: "TFFFF", phase: "RPPPP", requests: same(5, 1000*mi), levels: both(100 * mi), replicas: 1, util: 10},
	//   A pending pod counts as 0 on scale up: (1000+1000)/2000 = 100 %, ratio
	//   2; with it at 0: 2000/3000 = 66 %, ratio 1.32: ceil(3.96) = 4.
	{name: "memory: pending pod counts as 0 on scale up", resource: Memory, current: 3, target: 50, phase: "PRR", requests: same(3, 1000*mi), levels: both(100*mi, 1000*mi, 1000*mi), replicas: 4, util: 100},
	//   Failed pods are ignored: (500+700)/2000 = 60 %, 60/30 × 2 = 4.
	{name: "memory: failed pods ignored", resource: Memory, current: 2, target: 30, phase: "RRFF", requests: same(4, 1000*mi), levels: both(500*mi, 700*mi, 900*mi, 900*mi), replicas: 4, util: 60},
	//   Deleted pods too, even with samples.
	{name: "memory: deleted pods ignored", resource: Memory, current: 5, target: 50, phase: "RRRRRRR", deleted: "0000011", requests: same(7, 1000*mi), levels: both(100*mi, 300*mi, 500*mi, 250*mi, 250*mi, 1000*mi, 1000*mi), replicas: 3, util: 28},
	//   Missing on scale down count at 100 %: (400+95)/2000 = 24 %; with two
	//   at 1000: 2495/4000 = 62 %, ratio 0.62: ceil(2.48) = 3.
	{name: "memory: missing metrics on scale down", resource: Memory, current: 4, target: 100, requests: same(4, 1000*mi), levels: both(400*mi, 95*mi), replicas: 3, util: 24},
	//   Missing on scale up count at 0: 1900/1000 = 190 %, ratio 1.9; with
	//   one at 0: 1900/2000 = 95 %: within tolerance: stay 2.
	{name: "memory: missing metrics on scale up", resource: Memory, current: 2, target: 100, requests: same(2, 1000*mi), levels: both(1900 * mi), replicas: 2, util: 190},
	//   (1010+1030+1020)/3000 = 102 %: within tolerance.
	{name: "memory: tolerance", resource: Memory, current: 3, target: 100, requests: []int64{900 * mi, 1000 * mi, 1100 * mi}, levels: both(1010*mi, 1030*mi, 1020*mi), replicas: 3, util: 102},
	//   110 % of 100 %: exactly on the 0.1 band: stay.
	{name: "memory: tolerance boundary", resource: Memory, current: 3, target: 100, requests: same(3, 1000*mi), levels: both(1100*mi, 1100*mi, 1100*mi), replicas: 3, util: 110},
	//   Bytes that are not whole MiB: 3 × 333333333 of 3 × 1000000000 is
	//   33 %, ratio 0.66: ceil(1.98) = 2.
	{name: "memory: odd bytes", resource: Memory, current: 3, target: 50, requests: same(3, 500000000), levels: both(166666666, 166666667, 166666666), replicas: 2, util: 33},
	{name: "memory: empty metrics", resource: Memory, current: 3, target: 80, requests: same(3, 1000*mi), err: "no metrics returned from resource metrics API"},
	{name: "memory: missing request", resource: Memory, current: 2, target: 80, requests: same(1, 1000*mi), levels: both(500*mi, 500*mi), err: "missing request"},
}

// groupCase is a case of upstream's TestGroupPods.
type groupCase struct {
	name     string
	resource Resource
	pods     []upPod
	ready    int
	unready  []string
	missing  []string
	ignored  int
}

// metric gives an upstream pod a sample taken at sampled over window.
func metric(p upPod, sampled upTime, window time.Duration) upPod {
	p.hasMetric, p.usage, p.sampled, p.window = true, 1, sampled, window
	return p
}

var upstreamGroupCases = []groupCase{
	{name: "void", resource: CPU},
	{name: "count in a ready pod - memory", resource: Memory,
		pods:  []upPod{metric(upPod{name: "bentham", phase: "Succeeded", noStart: true}, ago(0), time.Minute)},
		ready: 1},
	{name: "unready a pod without ready condition - CPU", resource: CPU,
		pods:    []upPod{metric(upPod{name: "lucretius", phase: "Succeeded", start: ago(0)}, zeroTime, 0)},
		unready: []string{"lucretius"}},
	{name: "count in a ready pod with fresh metrics during initialization period - CPU", resource: CPU,
		pods:  []upPod{metric(upPod{name: "bentham", phase: "Succeeded", start: ago(time.Minute), ready: "True", transition: ago(30 * time.Second)}, ago(0), 30*time.Second)},
		ready: 1},
	{name: "unready a ready pod without fresh metrics during initialization period - CPU", resource: CPU,
		pods:    []upPod{metric(upPod{name: "bentham", phase: "Succeeded", start: ago(time.Minute), ready: "True", transition: ago(30 * time.Second)}, ago(0), time.Minute)},
		unready: []string{"bentham"}},
	{name: "unready an unready pod during initialization period - CPU", resource: CPU,
		pods:    []upPod{metric(upPod{name: "lucretius", phase: "Succeeded", start: ago(10 * time.Minute), ready: "False", transition: ago(9*time.Minute + 54*time.Second)}, zeroTime, 0)},
		unready: []string{"lucretius"}},
	{name: "count in a ready pod without fresh metrics after initialization period - CPU", resource: CPU,
		pods:  []upPod{metric(upPod{name: "bentham", phase: "Succeeded", start: ago(3 * time.Minute), ready: "True", transition: ago(3 * time.Minute)}, ago(2*time.Minute), time.Minute)},
		ready: 1},
	{name: "count in an unready pod that was ready after initialization period - CPU", resource: CPU,
		pods:  []upPod{metric(upPod{name: "lucretius", phase: "Succeeded", start: ago(10 * time.Minute), ready: "False", transition: ago(9 * time.Minute)}, zeroTime, 0)},
		ready: 1},
	{name: "unready pod that has never been ready after initialization period - CPU", resource: CPU,
		pods:  []upPod{metric(upPod{name: "lucretius", phase: "Succeeded", start: ago(10 * time.Minute), ready: "False", transition: ago(9*time.Minute + 50*time.Second)}, zeroTime, 0)},
		ready: 1},
	{name: "a missing pod", resource: CPU,
		pods:    []upPod{{name: "epicurus", phase: "Succeeded", start: ago(3 * time.Minute)}},
		missing: []string{"epicurus"}},
	{name: "several pods", resource: CPU,
		pods: []upPod{
			metric(upPod{name: "lucretius", phase: "Succeeded", start: ago(0)}, zeroTime, 0),
			metric(upPod{name: "niccolo", phase: "Succeeded", start: ago(3 * time.Minute), ready: "True", transition: ago(3 * time.Minute)}, zeroTime, 0),
			{name: "epicurus", phase: "Succeeded", start: ago(3 * time.Minute)},
		},
		ready: 1, unready: []string{"lucretius"}, missing: []string{"epicurus"}},
	{name: "pending pods are unreadied", resource: CPU,
		pods:    []upPod{{name: "unscheduled", phase: "Pending", noStart: true}},
		unready: []string{"unscheduled"}},
	{name: "ignore pods with deletion timestamps", resource: CPU,
		pods:    []upPod{metric(upPod{name: "deleted", phase: "Pending", deleted: true, noStart: true}, zeroTime, 0)},
		ignored: 1},
	{name: "ignore pods in a failed state", resource: CPU,
		pods:    []upPod{metric(upPod{name: "failed", phase: "Failed", noStart: true}, zeroTime, 0)},
		ignored: 1},
}

func (c groupCase) check(pods []Pod) (bool, string) {
	g := groupPods(upstreamOpts, t0, c.resource, pods)
	names := func(class podClass) []string {
		var out []string
		for i, c := range g.class {
			if c == class {
				out = append(out, pods[i].Name)
			}
		}
		slices.Sort(out)
		return out
	}
	unready, missing := slices.Sorted(slices.Values(c.unready)), slices.Sorted(slices.Values(c.missing))
	if g.ready != c.ready || len(names(classReady)) != c.ready || !slices.Equal(names(classUnready), unready) || !slices.Equal(names(classMissing), missing) || g.ignored != c.ignored {
		return false, fmt.Sprintf("ready %d, unready %v, missing %v, ignored %d; upstream %d, %v, %v, %d",
			g.ready, names(classUnready), names(classMissing), g.ignored, c.ready, unready, missing, c.ignored)
	}
	return true, ""
}

func (c groupCase) translated() []Pod {
	var ps []Pod
	for _, u := range c.pods {
		ps = append(ps, u.pod(c.resource, t0))
	}
	return ps
}

// TestUpstreamAgreement runs the corpus and reports the agreement figure
// (recorded in docs/autoscaling.md); every case must agree.
func TestUpstreamAgreement(t *testing.T) {
	agree, total := 0, 0
	for _, c := range upstreamCalcCases {
		total++
		t.Run("replicas/"+c.name, func(t *testing.T) {
			if ok, why := c.agrees(c.run(c.pods(t0))); !ok {
				t.Error(why)
				return
			}
			agree++
		})
	}
	for _, c := range upstreamGroupCases {
		total++
		t.Run("groupPods/"+c.name, func(t *testing.T) {
			if ok, why := c.check(c.translated()); !ok {
				t.Error(why)
				return
			}
			agree++
		})
	}
	t.Logf("agreement with upstream: %d of %d cases (%d replica calculations, %d groupPods)", agree, total, len(upstreamCalcCases), len(upstreamGroupCases))
	if total < 70 {
		t.Errorf("the corpus has %d cases; it lost some", total)
	}
}

// TestCorpusIsOrderIndependent runs every corpus case 200 times with its
// pods shuffled: the proposal, notes and reasons included, must not change.
func TestCorpusIsOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 2))
	for _, c := range upstreamCalcCases {
		t.Run(c.name, func(t *testing.T) {
			pods := c.pods(t0)
			want := c.run(pods)
			for range 200 {
				if got := c.run(shuffled(rng, pods)); !reflect.DeepEqual(got, want) {
					t.Fatalf("shuffled pods give %+v, in order %+v", got, want)
				}
			}
		})
	}
	for _, c := range upstreamGroupCases {
		t.Run("groupPods/"+c.name, func(t *testing.T) {
			pods := c.translated()
			for range 200 {
				if ok, why := c.check(shuffled(rng, pods)); !ok {
					t.Fatal(why)
				}
			}
		})
	}
}

// TestDecisionsAreOrderIndependent runs whole decisions, two metrics with
// missing, unready and ignored instances, many times with the instances
// shuffled: every field of the decision must be the same each time.
func TestDecisionsAreOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(24, 3))
	p := policy(1, 20)
	p.Metrics = append(p.Metrics, Metric{Resource: Memory, TargetUtilization: 60})
	ps := pods(0.7, 0.3, 0.7, 0.3, -1, 0.9, -1, 0.2)
	ps = append(ps, pending(pod(8, 0)))
	old := pod(9, 2)
	old.Ignored = true
	ps = append(ps, old)
	unready := pod(10, 0.05)
	unready.Ready = false
	unready.ReadySince = unready.StartTime
	ps = append(ps, unready)
	for i := range ps {
		if i%3 != 1 && !ps[i].Pending {
			ps[i].Usage[Memory] = Sample{Value: float64(300+70*i) * mi, Time: t0}
		}
		ps[i].Requests[Memory] = 1000 * mi
	}
	want := Decide(DefaultOptions(), p, &State{}, t0, 8, ps)
	for range 500 {
		if got := Decide(DefaultOptions(), p, &State{}, t0, 8, shuffled(rng, ps)); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffled instances decide\n%+v\nin order\n%+v", got, want)
		}
	}
	if len(want.Metrics) != 2 || want.Metrics[0].Missing != 2 || want.Metrics[0].Unready != 2 || want.Metrics[0].Ignored != 1 {
		t.Errorf("the instances are not grouped as built: %+v", want.Metrics)
	}
}
