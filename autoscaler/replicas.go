package autoscaler

import (
	"fmt"
	"math"
	"time"
)

// Options are the controller-wide settings of the HPA algorithm, with the
// kube-controller-manager's defaults from DefaultOptions.
type Options struct {
	// Tolerance is the band around 1.0 of usage/target in which nothing changes.
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
	// Requests per resource (cores for cpu, bytes for memory); a missing or
	// zero request makes the metric invalid, as for the HPA.
	Requests map[Resource]float64
	// Usage per resource; a resource absent here is a missing metric.
	Usage map[Resource]Sample
}

// Sample is one usage measurement.
type Sample struct {
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

// ResourceReplicas proposes a replica count for one resource metric given
// the current (desired) replica count, exactly as the HPA's replica
// calculator does.
func ResourceReplicas(opts Options, now time.Time, current int, m Metric, pods []Pod) Proposal {
	p := Proposal{Resource: m.Resource, Target: m.TargetUtilization}
	if len(pods) == 0 {
		p.Invalid = "no instances to measure"
		return p
	}
	usage := map[string]float64{}
	var unready, missing []string
	for _, pod := range pods {
		if pod.Ignored {
			p.Ignored++
			continue
		}
		if pod.Pending {
			unready = append(unready, pod.Name)
			continue
		}
		s, ok := pod.Usage[m.Resource]
		if !ok {
			missing = append(missing, pod.Name)
			continue
		}
		if m.Resource == CPU && cpuUnready(opts, now, pod, s) {
			unready = append(unready, pod.Name)
			continue
		}
		usage[pod.Name] = s.Value
	}
	p.Ready, p.Unready, p.Missing = len(usage), len(unready), len(missing)
	if len(usage) == 0 {
		p.Invalid = "no usable samples (instances unready or without metrics)"
		return p
	}
	requests := map[string]float64{}
	for _, pod := range pods {
		if pod.Ignored {
			continue
		}
		r := pod.Requests[m.Resource]
		if r <= 0 {
			p.Invalid = fmt.Sprintf("missing request for %s on %s: set resources.%s so utilization can be computed", m.Resource, pod.Name, m.Resource)
			p.MissingRequest = true
			return p
		}
		requests[pod.Name] = r
	}

	ratio, util := utilizationRatio(usage, requests, m.TargetUtilization)
	p.Utilization = util
	scaleUpWithUnready := len(unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		if math.Abs(1.0-ratio) <= opts.Tolerance {
			p.Replicas, p.Note = current, "within tolerance"
			return p
		}
		p.Replicas = int(math.Ceil(ratio * float64(len(usage))))
		return p
	}

	// Correct for pods without samples: when scaling down they count as
	// using max(100 %, target) of their request, when scaling up as 0; unready
	// pods count as 0 only when scaling up.
	var notes []string
	if len(missing) > 0 {
		switch {
		case ratio < 1.0:
			fallback := math.Max(100, float64(m.TargetUtilization)) / 100
			for _, name := range missing {
				usage[name] = requests[name] * fallback
			}
			notes = append(notes, fmt.Sprintf("%d instances without metrics counted at %d%%", len(missing), int(fallback*100)))
		case ratio > 1.0:
			for _, name := range missing {
				usage[name] = 0
			}
			notes = append(notes, fmt.Sprintf("%d instances without metrics counted at 0%%", len(missing)))
		}
	}
	if scaleUpWithUnready {
		for _, name := range unready {
			usage[name] = 0
		}
		notes = append(notes, fmt.Sprintf("%d unready instances counted at 0%%", len(unready)))
	}
	newRatio, _ := utilizationRatio(usage, requests, m.TargetUtilization)
	switch {
	case math.Abs(1.0-newRatio) <= opts.Tolerance:
		p.Replicas, p.Note = current, joinNotes(append(notes, "within tolerance after correction"))
		return p
	case ratio < 1.0 && newRatio > 1.0, ratio > 1.0 && newRatio < 1.0:
		p.Replicas, p.Note = current, joinNotes(append(notes, "correction would flip the direction"))
		return p
	}
	n := int(math.Ceil(newRatio * float64(len(usage))))
	if (newRatio < 1.0 && n > current) || (newRatio > 1.0 && n < current) {
		p.Replicas, p.Note = current, joinNotes(append(notes, "correction would flip the direction"))
		return p
	}
	p.Replicas, p.Note = n, joinNotes(notes)
	return p
}

// cpuUnready decides whether a pod's CPU sample must be set aside: during
// the initialization period unless it was taken while the pod was ready,
// and afterwards only if the pod went unready right at its start.
func cpuUnready(opts Options, now time.Time, pod Pod, s Sample) bool {
	if pod.StartTime.IsZero() || pod.ReadySince.IsZero() {
		return true
	}
	if pod.StartTime.Add(opts.CPUInitializationPeriod).After(now) {
		return !pod.Ready || s.Time.Before(pod.ReadySince.Add(s.Window))
	}
	return !pod.Ready && pod.StartTime.Add(opts.InitialReadinessDelay).After(pod.ReadySince)
}

// utilizationRatio returns usage/target as the HPA computes it: the
// utilization is truncated to a whole percent before the division.
func utilizationRatio(usage, requests map[string]float64, target int) (float64, int) {
	var used, requested float64
	for name, u := range usage {
		used += u
		requested += requests[name]
	}
	util := int(used * 100 / requested)
	return float64(util) / float64(target), util
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
