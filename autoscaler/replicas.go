package autoscaler

import (
	"fmt"
	"math"
	"math/big"
	"time"
)

// Options are the controller-wide settings of the HPA algorithm, with the
// kube-controller-manager's defaults from DefaultOptions.
type Options struct {
	// Tolerance is the band on either side of a usage ratio (usage/target)
	// of 1.0 in which nothing changes, the controller's
	// --horizontal-pod-autoscaler-tolerance. A policy's
	// behavior.scaleUp/scaleDown.tolerance overrides it per direction.
	Tolerance float64
	// CPUInitializationPeriod: CPU samples of a pod this young count only if
	// they were taken while it was ready.
	CPUInitializationPeriod time.Duration
	// InitialReadinessDelay: a pod that turned unready this soon after it
	// started is taken to be still starting.
	InitialReadinessDelay time.Duration
}

// DefaultOptions are kube-controller-manager's defaults.
func DefaultOptions() Options {
	return Options{Tolerance: 0.1, CPUInitializationPeriod: 5 * time.Minute, InitialReadinessDelay: 30 * time.Second}
}

// Pod is one instance as the algorithm sees it.
type Pod struct {
	Name string
	// Pending pods have not started; they count as unready.
	Pending bool
	// Ignored pods (being deleted, failed, or surge instances of a rollout in
	// progress) are left out entirely.
	Ignored bool
	// Ready is the pod's Ready condition, ReadySince its last transition.
	Ready      bool
	ReadySince time.Time
	// StartTime is zero when the pod has not started.
	StartTime time.Time
	// Requests per resource (cores for cpu, bytes for memory). A resource
	// absent here is a missing request, which makes the metric invalid, as
	// for the HPA; a request of 0 counts as 0. Requests and usage are taken
	// as whole millicores and bytes (see Quantity) before any arithmetic.
	Requests map[Resource]float64
	// Usage per resource; a resource absent here is a missing metric.
	Usage map[Resource]Sample
}

// Sample is one usage measurement.
type Sample struct {
	// Value is in cores for cpu, bytes for memory.
	Value float64
	// Time the sample was taken and the Window it averages over.
	Time   time.Time
	Window time.Duration
}

// Proposal is what one metric asks for, with its explanation.
type Proposal struct {
	Resource Resource `json:"resource"`
	// Utilization is the current average utilization in percent of the
	// request over pods with a usable sample, as the HPA reports it.
	Utilization int `json:"utilization"`
	Target      int `json:"target"`
	// Replicas proposed by this metric; 0 when the metric is invalid.
	Replicas int `json:"proposal"`
	// Ready, Unready, Missing and Ignored count the pods in each group.
	Ready   int `json:"ready"`
	Unready int `json:"unready"`
	Missing int `json:"missing"`
	Ignored int `json:"ignored"`
	// Note explains the proposal: "within tolerance", "missing pods counted
	// as 0%", "change would flip direction", …
	Note string `json:"note,omitempty"`
	// Invalid is set when no proposal could be made, with the reason.
	Invalid string `json:"invalid,omitempty"`
	// MissingRequest is set when the metric is invalid because an instance
	// has no request for the resource (the HPA's "<unknown>").
	MissingRequest bool `json:"missingRequest,omitempty"`
}

// Tolerances are the bands below and above a usage ratio of 1.0 in which a
// metric proposes the current count: autoscaling/v2's
// behavior.scaleDown.tolerance and behavior.scaleUp.tolerance.
type Tolerances struct {
	ScaleDown float64
	ScaleUp   float64
}

// within is upstream's check: 1 - down <= ratio <= 1 + up, in float64, so
// that a ratio of exactly 1.1 is within a tolerance of 0.1.
func (t Tolerances) within(ratio float64) bool {
	return 1.0-t.ScaleDown <= ratio && ratio <= 1.0+t.ScaleUp
}

// TolerancesFor returns a policy's tolerances: the behavior's own for each
// direction that sets one, else the controller-wide Tolerance.
func (o Options) TolerancesFor(b Behavior) Tolerances {
	t := Tolerances{ScaleDown: o.Tolerance, ScaleUp: o.Tolerance}
	if b.ScaleDown.Tolerance != nil {
		t.ScaleDown = *b.ScaleDown.Tolerance
	}
	if b.ScaleUp.Tolerance != nil {
		t.ScaleUp = *b.ScaleUp.Tolerance
	}
	return t
}

// Quantity converts a request or usage to the integer unit the algorithm
// counts in: millicores for cpu, bytes for memory. Like a Kubernetes
// quantity's MilliValue, a value finer than the unit rounds up; float64
// noise below a millionth of the unit is dropped first, so 0.3 cores is
// 300 millicores, not 301. Negative values count as 0.
func Quantity(r Resource, v float64) int64 {
	x := v
	if r == CPU {
		x = v * 1000
	}
	switch {
	case !(x > 0): // also NaN
		return 0
	case x >= math.MaxInt64/2:
		return math.MaxInt64 / 2
	case x >= 1e12: // a millionth of the unit is below float64 precision here
		return int64(math.Ceil(x))
	}
	micro := int64(math.Round(x * 1e6))
	return (micro + 999_999) / 1_000_000
}

// podClass is where upstream's groupPods puts an instance for one resource.
type podClass uint8

const (
	classReady podClass = iota
	classUnready
	classMissing
	classIgnored
)

// podGroups holds each instance's class, by index into the instance
// slice, and how many are in each.
type podGroups struct {
	class                            []podClass
	ready, unready, missing, ignored int
}

// groupPods: ignored instances (deleted, failed, surge) are left out;
// pending ones are unready; an instance without a sample is missing; for
// cpu, an instance whose sample may be inflated by its start-up is unready.
// Memory has no readiness rule: a running instance with a sample counts.
func groupPods(opts Options, now time.Time, r Resource, pods []Pod) podGroups {
	g := podGroups{class: make([]podClass, len(pods))}
	for i, pod := range pods {
		c := classReady
		if pod.Ignored {
			c = classIgnored
		} else if pod.Pending {
			c = classUnready
		} else if s, ok := pod.Usage[r]; !ok {
			c = classMissing
		} else if r == CPU && cpuUnready(opts, now, pod, s) {
			c = classUnready
		}
		g.class[i] = c
		switch c {
		case classReady:
			g.ready++
		case classUnready:
			g.unready++
		case classMissing:
			g.missing++
		default:
			g.ignored++
		}
	}
	return g
}

// ResourceReplicas proposes a replica count for one resource metric given
// the current (desired) replica count, exactly as the HPA's replica
// calculator does: whole millicores (or bytes) summed as integers, the
// utilization an integer percentage truncated as upstream's
// GetResourceUtilizationRatio, the usage ratio utilization/target, and
// upstream's tolerance check. The result does not depend on the order of
// pods.
func ResourceReplicas(opts Options, tol Tolerances, now time.Time, current int, m Metric, pods []Pod) Proposal {
	p := Proposal{Resource: m.Resource, Target: m.TargetUtilization}
	if len(pods) == 0 {
		p.Invalid = "no instances to measure"
		return p
	}
	g := groupPods(opts, now, m.Resource, pods)
	p.Ready, p.Unready, p.Missing, p.Ignored = g.ready, g.unready, g.missing, g.ignored
	if g.ready == 0 {
		p.Invalid = "no usable samples (instances unready or without metrics)"
		return p
	}
	// Every instance needs a request, ignored ones included, as upstream
	// computes requests over every pod the selector matches.
	var without string
	for _, pod := range pods {
		if v, ok := pod.Requests[m.Resource]; (!ok || v < 0) && (without == "" || pod.Name < without) {
			without = pod.Name
		}
	}
	if without != "" {
		p.Invalid = fmt.Sprintf("missing request for %s on %s: set resources.%s so utilization can be computed", m.Resource, without, m.Resource)
		p.MissingRequest = true
		return p
	}
	request := func(i int) int64 { return Quantity(m.Resource, pods[i].Requests[m.Resource]) }

	var sum usageSum
	for i, c := range g.class {
		if c == classReady {
			sum.add(Quantity(m.Resource, pods[i].Usage[m.Resource].Value), request(i))
		}
	}
	util, ok := sum.percent()
	if !ok {
		p.Invalid = "the instances with samples request none of the resource"
		return p
	}
	p.Utilization = util
	ratio := float64(util) / float64(m.TargetUtilization)

	scaleUpWithUnready := g.unready > 0 && ratio > 1.0
	if !scaleUpWithUnready && g.missing == 0 {
		if tol.within(ratio) {
			p.Replicas, p.Note = current, "within tolerance"
			return p
		}
		p.Replicas = ceilReplicas(ratio, g.ready)
		return p
	}

	// Correct for instances without a usable sample: when scaling down,
	// missing ones count as using max(100 %, target) of their request; when
	// scaling up, missing and unready ones count as 0.
	var notes []string
	counted := g.ready
	if g.missing > 0 && ratio != 1.0 {
		fallback := int64(0)
		if ratio < 1.0 {
			fallback = int64(max(100, m.TargetUtilization))
		}
		for i, c := range g.class {
			if c == classMissing {
				r := request(i)
				sum.add(mulDiv(r, fallback, 100), r)
			}
		}
		counted += g.missing
		notes = append(notes, fmt.Sprintf("%d instances without metrics counted at %d%%", g.missing, fallback))
	}
	if scaleUpWithUnready {
		for i, c := range g.class {
			if c == classUnready {
				sum.add(0, request(i))
			}
		}
		counted += g.unready
		notes = append(notes, fmt.Sprintf("%d unready instances counted at 0%%", g.unready))
	}
	newUtil, _ := sum.percent()
	newRatio := float64(newUtil) / float64(m.TargetUtilization)
	switch {
	case tol.within(newRatio):
		p.Replicas, p.Note = current, joinNotes(append(notes, "within tolerance after correction"))
		return p
	case ratio < 1.0 && newRatio > 1.0, ratio > 1.0 && newRatio < 1.0:
		p.Replicas, p.Note = current, joinNotes(append(notes, "correction would flip the direction"))
		return p
	}
	n := ceilReplicas(newRatio, counted)
	if (newRatio < 1.0 && n > current) || (newRatio > 1.0 && n < current) {
		p.Replicas, p.Note = current, joinNotes(append(notes, "correction would flip the direction"))
		return p
	}
	p.Replicas, p.Note = n, joinNotes(notes)
	return p
}

// ceilReplicas is ceil(ratio × n), computed in float64 as upstream does,
// capped at the largest int32 as upstream's replica counts are.
func ceilReplicas(ratio float64, n int) int {
	r := math.Ceil(ratio * float64(n))
	if r > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(r)
}

// usageSum adds usage and requests in whole units. Totals beyond int64
// are kept exactly with big integers.
type usageSum struct {
	used, requested int64
	big             *[2]big.Int // used, requested once int64 overflowed
}

func (s *usageSum) add(used, requested int64) {
	if s.big == nil && used <= math.MaxInt64-s.used && requested <= math.MaxInt64-s.requested {
		s.used += used
		s.requested += requested
		return
	}
	if s.big == nil {
		s.big = new([2]big.Int)
		s.big[0].SetInt64(s.used)
		s.big[1].SetInt64(s.requested)
	}
	s.big[0].Add(&s.big[0], big.NewInt(used))
	s.big[1].Add(&s.big[1], big.NewInt(requested))
}

// percent is Σused × 100 / Σrequested, truncated, as upstream's
// GetResourceUtilizationRatio computes the utilization; false when the
// requests total 0. A percentage beyond int32 is capped there.
func (s *usageSum) percent() (int, bool) {
	if s.big == nil && s.used <= math.MaxInt64/100 {
		if s.requested == 0 {
			return 0, false
		}
		return int(min(s.used*100/s.requested, math.MaxInt32)), true
	}
	used, requested := big.NewInt(s.used), big.NewInt(s.requested)
	if s.big != nil {
		used, requested = &s.big[0], &s.big[1]
	}
	if requested.Sign() == 0 {
		return 0, false
	}
	pct := new(big.Int).Mul(used, big.NewInt(100))
	pct.Quo(pct, requested)
	if !pct.IsInt64() || pct.Int64() > math.MaxInt32 {
		return math.MaxInt32, true
	}
	return int(pct.Int64()), true
}

// mulDiv is a × b / c, truncated, without overflowing.
func mulDiv(a, b, c int64) int64 {
	if a == 0 || b <= math.MaxInt64/a {
		return a * b / c
	}
	r := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	r.Quo(r, big.NewInt(c))
	if !r.IsInt64() {
		return math.MaxInt64
	}
	return r.Int64()
}

// cpuUnready decides whether a pod's CPU sample must be set aside: during
// the initialization period unless it was taken a full window after the
// pod became ready, and afterwards only if the pod is unready and went
// unready right at its start. A pod not started or without a readiness
// time (upstream: no start time or no Ready condition) is unready.
func cpuUnready(opts Options, now time.Time, pod Pod, s Sample) bool {
	if pod.StartTime.IsZero() || pod.ReadySince.IsZero() {
		return true
	}
	if pod.StartTime.Add(opts.CPUInitializationPeriod).After(now) {
		return !pod.Ready || s.Time.Before(pod.ReadySince.Add(s.Window))
	}
	return !pod.Ready && pod.StartTime.Add(opts.InitialReadinessDelay).After(pod.ReadySince)
}

func joinNotes(notes []string) string {
	s := ""
	for i, n := range notes {
		if i > 0 {
			s += "; "
		}
		s += n
	}
	return s
}
