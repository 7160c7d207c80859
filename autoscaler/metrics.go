package autoscaler

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
)

// Limits lists every Limit a decision may carry, so that the decision
// counter starts at 0 for each of them.
var Limits = []Limit{LimitNone, LimitTolerance, LimitStabilization, LimitRatePolicy, LimitMax, LimitMin,
	LimitInvalidMetric, LimitMissingRequest, LimitDisabled, LimitHPA}

// LimitLabel is a limit as a metric label value: "within range" becomes
// within_range, "managed by an HPA" managed_by_an_hpa.
func LimitLabel(l Limit) string {
	return strings.ReplaceAll(strings.ToLower(string(l)), " ", "_")
}

var (
	currentDesc = prometheus.NewDesc("opshub_autoscaler_current_replicas",
		"Replicas of the service when the autoscaler last decided.", []string{"project", "service"}, nil)
	desiredDesc = prometheus.NewDesc("opshub_autoscaler_desired_replicas",
		"Replicas the autoscaler last decided on, after stabilization, rate policies and bounds.", []string{"project", "service"}, nil)
	minDesc = prometheus.NewDesc("opshub_autoscaler_min_replicas",
		"minReplicas of the service's autoscaling policy.", []string{"project", "service"}, nil)
	maxDesc = prometheus.NewDesc("opshub_autoscaler_max_replicas",
		"maxReplicas of the service's autoscaling policy.", []string{"project", "service"}, nil)
	utilizationDesc = prometheus.NewDesc("opshub_autoscaler_utilization_percent",
		"Average utilization of the resource in percent of the request, as the last decision measured it.", []string{"project", "service", "resource"}, nil)
	targetDesc = prometheus.NewDesc("opshub_autoscaler_target_utilization_percent",
		"targetUtilization of the resource in the service's autoscaling policy.", []string{"project", "service", "resource"}, nil)
	decisionsDesc = prometheus.NewDesc("opshub_autoscaler_decisions_total",
		"Autoscaler decisions by what shaped them (limit: within_range, tolerance, stabilization, policy_limit, max_replicas, min_replicas, invalid_metric, missing_request, scaling_disabled, managed_by_an_hpa).",
		[]string{"project", "service", "limit"}, nil)
)

// Describe implements prometheus.Collector.
func (l *Loop) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{currentDesc, desiredDesc, minDesc, maxDesc, utilizationDesc, targetDesc, decisionsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: every policy's bounds, targets
// and decision counts (0 before its first decision), and the replicas and
// utilization of its latest decision once there is one.
func (l *Loop) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for ref, p := range l.opts.Policies {
		gauge(minDesc, float64(p.MinReplicas), ref.Project, ref.Service)
		gauge(maxDesc, float64(p.MaxReplicas), ref.Project, ref.Service)
		for _, m := range p.Metrics {
			gauge(targetDesc, float64(m.TargetUtilization), ref.Project, ref.Service, string(m.Resource))
		}
		for _, lim := range Limits {
			ch <- prometheus.MustNewConstMetric(decisionsDesc, prometheus.CounterValue, float64(l.counts[ref][lim]), ref.Project, ref.Service, LimitLabel(lim))
		}
		hist := l.decisions[ref]
		if len(hist) == 0 {
			continue
		}
		d := hist[0]
		gauge(currentDesc, float64(d.Current), ref.Project, ref.Service)
		gauge(desiredDesc, float64(d.Desired), ref.Project, ref.Service)
		for _, m := range d.Metrics {
			if m.Replicas > 0 {
				gauge(utilizationDesc, float64(m.Utilization), ref.Project, ref.Service, string(m.Resource))
			}
		}
	}
}

// count adds d to the decision counts; l.mu is held.
func (l *Loop) count(ref model.Ref, d Decision) {
	if l.counts == nil {
		l.counts = map[model.Ref]map[Limit]uint64{}
	}
	if l.counts[ref] == nil {
		l.counts[ref] = map[Limit]uint64{}
	}
	l.counts[ref][d.Limit]++
}

var _ prometheus.Collector = (*Loop)(nil)
