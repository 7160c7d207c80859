package autoscaler

import (
	"fmt"
	"math"
	"time"
)

// State is what the algorithm remembers between passes for one policy: the
// recommendations of the longest stabilization window and the scale events
// of the longest rate-policy period. Callers persist it (JSON) so a restart
// keeps its windows.
type State struct {
	Recommendations []Recommendation `json:"recommendations"`
	ScaleUps        []ScaleEvent     `json:"scaleUps"`
	ScaleDowns      []ScaleEvent     `json:"scaleDowns"`
}

// Recommendation is one pass's unstabilized desired replica count.
type Recommendation struct {
	Replicas int       `json:"replicas"`
	Time     time.Time `json:"time"`
}

// ScaleEvent is one applied change of the replica count.
type ScaleEvent struct {
	Change int       `json:"change"`
	Time   time.Time `json:"time"`
}

// Limit names what shaped a decision, in the words `opshub status` uses.
type Limit string

// The reasons a decision may give.
const (
	LimitNone           Limit = "within range"
	LimitTolerance      Limit = "tolerance"
	LimitStabilization  Limit = "stabilization"
	LimitRatePolicy     Limit = "policy limit"
	LimitMax            Limit = "max replicas"
	LimitMin            Limit = "min replicas"
	LimitInvalidMetric  Limit = "invalid metric"
	LimitMissingRequest Limit = "missing request"
	LimitDisabled       Limit = "scaling disabled"
	// LimitHPA: a Kubernetes HorizontalPodAutoscaler already scales the
	// service, so opshub leaves it alone rather than fight over replicas.
	LimitHPA Limit = "managed by an HPA"
)

// Decision is the outcome of one pass, with its explanation.
type Decision struct {
	Time    time.Time  `json:"time"`
	Current int        `json:"current"`
	Desired int        `json:"desired"`
	Metrics []Proposal `json:"metrics"`
	// Recommended is the metrics' maximum before stabilization and rate
	// limits; 0 when no metric could propose.
	Recommended int    `json:"recommended"`
	Limit       Limit  `json:"limit"`
	Reason      string `json:"reason"`
}

// Scaled reports whether the decision changes the replica count.
func (d Decision) Scaled() bool { return d.Desired != d.Current }

// Decide runs one pass of the HPA for a policy. current is the service's
// desired replica count (the scale's spec), pods its instances. Decide
// records the pass's recommendation in st; call st.RecordScale once the
// change it asks for has been applied.
func Decide(opts Options, p Policy, st *State, now time.Time, current int, pods []Pod) Decision {
	st.rebase(now)
	d := Decision{Time: now, Current: current, Desired: current}
	switch {
	case current == 0 && p.MinReplicas != 0:
		d.Limit, d.Reason = LimitDisabled, "the service is scaled to zero; autoscaling resumes when it is scaled up by hand"
		return d
	case current > p.MaxReplicas:
		d.Desired, d.Limit, d.Reason = p.MaxReplicas, LimitMax, fmt.Sprintf("current replicas above maxReplicas %d", p.MaxReplicas)
		return d
	case current < p.MinReplicas:
		d.Desired, d.Limit, d.Reason = p.MinReplicas, LimitMin, fmt.Sprintf("current replicas below minReplicas %d", p.MinReplicas)
		return d
	}

	invalid, firstInvalid := 0, -1
	recommended := 0
	tol := opts.TolerancesFor(p.Behavior)
	for i, m := range p.Metrics {
		prop := ResourceReplicas(opts, tol, now, current, m, pods)
		d.Metrics = append(d.Metrics, prop)
		if prop.Invalid != "" {
			invalid++
			if firstInvalid < 0 {
				firstInvalid = i
			}
			continue
		}
		recommended = max(recommended, prop.Replicas)
	}
	// With every metric invalid, or some invalid while the others say scale
	// down, the HPA does nothing: a missing signal must not shrink a service.
	if invalid == len(p.Metrics) || (invalid > 0 && recommended < current) {
		bad := d.Metrics[firstInvalid]
		d.Limit = LimitInvalidMetric
		if bad.MissingRequest {
			d.Limit = LimitMissingRequest
		}
		d.Reason = fmt.Sprintf("%s metric invalid: %s; keeping %d", bad.Resource, bad.Invalid, current)
		return d
	}
	d.Recommended = recommended

	stabilized := stabilize(p.Behavior, st, now, current, recommended)
	desired, limit, reason := rateLimit(p, st, now, current, stabilized)
	d.Desired = desired
	switch {
	case limit != LimitNone:
		d.Limit, d.Reason = limit, reason
	case stabilized != recommended:
		d.Limit = LimitStabilization
		if recommended > current {
			d.Reason = fmt.Sprintf("metrics ask for %d; the lowest recommendation of the last %s is %d", recommended, p.Behavior.ScaleUp.StabilizationWindow, stabilized)
		} else {
			d.Reason = fmt.Sprintf("metrics ask for %d; the highest recommendation of the last %s is %d", recommended, p.Behavior.ScaleDown.StabilizationWindow, stabilized)
		}
	case desired == current && allWithinTolerance(d.Metrics):
		d.Limit, d.Reason = LimitTolerance, "utilization within tolerance of the target"
	default:
		d.Limit = LimitNone
		if desired == current {
			d.Reason = fmt.Sprintf("metrics ask for %d, the current count", desired)
		} else {
			d.Reason = fmt.Sprintf("metrics ask for %d", desired)
		}
	}
	if notes := metricNotes(d.Metrics); notes != "" && d.Limit != LimitTolerance {
		d.Reason += " (" + notes + ")"
	}
	return d
}

// metricNotes gathers the metrics' explanations, such as instances counted
// at 0 % or a correction that would flip the direction.
func metricNotes(ps []Proposal) string {
	s := ""
	for _, p := range ps {
		if p.Note == "" || p.Note == "within tolerance" {
			continue
		}
		if s != "" {
			s += "; "
		}
		s += string(p.Resource) + ": " + p.Note
	}
	return s
}

func allWithinTolerance(ps []Proposal) bool {
	for _, p := range ps {
		if p.Invalid == "" && p.Note != "within tolerance" {
			return false
		}
	}
	return true
}

// stabilize applies the stabilization windows: scaling up goes no higher
// than the lowest recommendation of the up window, scaling down no lower
// than the highest of the down window. The recommendation is recorded.
func stabilize(b Behavior, st *State, now time.Time, current, recommended int) int {
	upCutoff := now.Add(-b.ScaleUp.StabilizationWindow)
	downCutoff := now.Add(-b.ScaleDown.StabilizationWindow)
	up, down := recommended, recommended
	kept := st.Recommendations[:0]
	for _, r := range st.Recommendations {
		if r.Time.After(upCutoff) {
			up = min(up, r.Replicas)
		}
		if r.Time.After(downCutoff) {
			down = max(down, r.Replicas)
		}
		if r.Time.After(upCutoff) || r.Time.After(downCutoff) {
			kept = append(kept, r)
		}
	}
	st.Recommendations = append(kept, Recommendation{Replicas: recommended, Time: now})
	out := current
	if out < up {
		out = up
	}
	if out > down {
		out = down
	}
	return out
}

// rateLimit applies the scale-up or scale-down policies and the min/max
// bounds, as the HPA's behavior rate conversion does.
func rateLimit(p Policy, st *State, now time.Time, current, desired int) (int, Limit, string) {
	switch {
	case desired > current:
		limit := scaleUpLimit(p.Behavior.ScaleUp, st, now, current)
		if limit < current {
			limit = current
		}
		allowed, why, reason := p.MaxReplicas, LimitMax, fmt.Sprintf("wanted %d, capped at maxReplicas %d", desired, p.MaxReplicas)
		if allowed > limit {
			allowed, why = limit, LimitRatePolicy
			reason = fmt.Sprintf("wanted %d; scale-up policies allow %d now", desired, limit)
			if p.Behavior.ScaleUp.SelectPolicy == SelectDisabled {
				why, reason = LimitDisabled, fmt.Sprintf("wanted %d; scaling up is disabled (selectPolicy Disabled)", desired)
			}
		}
		if desired > allowed {
			return allowed, why, reason
		}
	case desired < current:
		limit := scaleDownLimit(p.Behavior.ScaleDown, st, now, current)
		if limit > current {
			limit = current
		}
		allowed, why, reason := p.MinReplicas, LimitMin, fmt.Sprintf("wanted %d, kept at minReplicas %d", desired, p.MinReplicas)
		if allowed < limit {
			allowed, why = limit, LimitRatePolicy
			reason = fmt.Sprintf("wanted %d; scale-down policies allow %d now", desired, limit)
			if p.Behavior.ScaleDown.SelectPolicy == SelectDisabled {
				why, reason = LimitDisabled, fmt.Sprintf("wanted %d; scaling down is disabled (selectPolicy Disabled)", desired)
			}
		}
		if desired < allowed {
			return allowed, why, reason
		}
	}
	return desired, LimitNone, ""
}

// scaleUpLimit is the highest count the scale-up policies allow now.
// Percent rounds up, so that a small service can always grow.
func scaleUpLimit(r Rules, st *State, now time.Time, current int) int {
	if r.SelectPolicy == SelectDisabled {
		return current
	}
	result := math.MinInt
	pick := func(a, b int) int { return max(a, b) }
	if r.SelectPolicy == SelectMin {
		result, pick = math.MaxInt, func(a, b int) int { return min(a, b) }
	}
	for _, rp := range r.Policies {
		start := current - changeWithin(st.ScaleUps, now, rp.Period) + changeWithin(st.ScaleDowns, now, rp.Period)
		var proposed int
		if rp.Kind == Pods {
			proposed = start + rp.Value
		} else {
			proposed = int(math.Ceil(float64(start) * (1 + float64(rp.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// scaleDownLimit is the lowest count the scale-down policies allow now.
// Percent truncates, so a service never drops faster than allowed.
func scaleDownLimit(r Rules, st *State, now time.Time, current int) int {
	if r.SelectPolicy == SelectDisabled {
		return current
	}
	result := math.MaxInt
	pick := func(a, b int) int { return min(a, b) }
	if r.SelectPolicy == SelectMin {
		result, pick = math.MinInt, func(a, b int) int { return max(a, b) }
	}
	for _, rp := range r.Policies {
		start := current - changeWithin(st.ScaleUps, now, rp.Period) + changeWithin(st.ScaleDowns, now, rp.Period)
		var proposed int
		if rp.Kind == Pods {
			proposed = start - rp.Value
		} else {
			proposed = int(float64(start) * (1 - float64(rp.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

func changeWithin(events []ScaleEvent, now time.Time, period time.Duration) int {
	cutoff := now.Add(-period)
	n := 0
	for _, e := range events {
		if e.Time.After(cutoff) {
			n += e.Change
		}
	}
	return n
}

// rebase moves what lies after now to now. The windows carry the wall
// clock (they are stored); when it steps back, what was recorded before the
// step lies in the future and would count until the clock caught up, an
// hour more for a step of an hour. Moved to now, it counts for its window
// from the step, as if it had just happened.
func (st *State) rebase(now time.Time) {
	for i := range st.Recommendations {
		if st.Recommendations[i].Time.After(now) {
			st.Recommendations[i].Time = now
		}
	}
	for _, evs := range [][]ScaleEvent{st.ScaleUps, st.ScaleDowns} {
		for i := range evs {
			if evs[i].Time.After(now) {
				evs[i].Time = now
			}
		}
	}
}

// RecordScale notes an applied change from prev to next replicas, dropping
// events older than the longest policy period of that direction.
func (st *State) RecordScale(b Behavior, now time.Time, prev, next int) {
	st.rebase(now)
	switch {
	case next > prev:
		st.ScaleUps = append(prune(st.ScaleUps, now, longestPeriod(b.ScaleUp)), ScaleEvent{Change: next - prev, Time: now})
	case next < prev:
		st.ScaleDowns = append(prune(st.ScaleDowns, now, longestPeriod(b.ScaleDown)), ScaleEvent{Change: prev - next, Time: now})
	}
}

func longestPeriod(r Rules) time.Duration {
	var d time.Duration
	for _, p := range r.Policies {
		d = max(d, p.Period)
	}
	return d
}

func prune(events []ScaleEvent, now time.Time, keep time.Duration) []ScaleEvent {
	cutoff := now.Add(-keep)
	kept := events[:0]
	for _, e := range events {
		if e.Time.After(cutoff) {
			kept = append(kept, e)
		}
	}
	return kept
}
