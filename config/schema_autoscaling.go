package config

// Autoscaling scales services with the Kubernetes HPA algorithm.
type Autoscaling struct {
	// Interval between decisions; default 15s, the HPA's sync period.
	Interval Duration            `yaml:"interval"`
	Policies []AutoscalingPolicy `yaml:"policies,omitempty"`
}

// AutoscalingPolicy scales one service. Names and defaults follow
// autoscaling/v2 HorizontalPodAutoscaler.
type AutoscalingPolicy struct {
	Target Target `yaml:"target"`
	// MinReplicas defaults to 1.
	MinReplicas int `yaml:"minReplicas"`
	MaxReplicas int `yaml:"maxReplicas"`
	// Metrics default to cpu at 80 % utilization, as for an HPA.
	Metrics  []Metric `yaml:"metrics"`
	Behavior Behavior `yaml:"behavior"`
}

// Target names a service.
type Target struct {
	// Project defaults to the project of the only workload named Service
	// (platform kind local), else "default".
	Project string `yaml:"project"`
	Service string `yaml:"service"`
}

// Metric is a resource utilization target, in percent of the request (the
// workload's resources on platform kind local).
type Metric struct {
	// Resource is cpu or memory.
	Resource          string `yaml:"resource"`
	TargetUtilization int    `yaml:"targetUtilization"`
}

// Metric resources.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
)

// Behavior is HPA behavior: separate rules for scaling up and down.
type Behavior struct {
	ScaleUp   ScalingRules `yaml:"scaleUp"`
	ScaleDown ScalingRules `yaml:"scaleDown"`
}

// ScalingRules are HPAScalingRules. A rules block written in the file
// replaces only the fields it names; an explicit policies list replaces the
// default policies.
type ScalingRules struct {
	StabilizationWindowSeconds int `yaml:"stabilizationWindowSeconds"`
	// SelectPolicy is Max, Min or Disabled; default Max.
	SelectPolicy string          `yaml:"selectPolicy"`
	Policies     []ScalingPolicy `yaml:"policies"`
	// Tolerance is autoscaling/v2's behavior.scaleUp/scaleDown.tolerance:
	// the usage ratio must leave 1 ± this in the rules' direction before a
	// metric proposes a change. Nil keeps the controller's 0.1.
	Tolerance *float64 `yaml:"tolerance,omitempty"`
}

// ScalingPolicy is HPAScalingPolicy: change by at most Value pods or percent
// within PeriodSeconds.
type ScalingPolicy struct {
	// Type is Pods or Percent.
	Type          string `yaml:"type"`
	Value         int    `yaml:"value"`
	PeriodSeconds int    `yaml:"periodSeconds"`
}

// Scaling policy types and select policies.
const (
	ScalingPods    = "Pods"
	ScalingPercent = "Percent"
	SelectMax      = "Max"
	SelectMin      = "Min"
	SelectDisabled = "Disabled"
)
