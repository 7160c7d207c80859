package model

import "time"

// Event names, as fixed by the user-facing contract. Notification filters
// match them exactly or by "prefix.*".
const (
	EventContainerCrash           = "container.crash"
	EventContainerOOM             = "container.oom"
	EventContainerCrashLoop       = "container.crashloop"
	EventContainerEviction        = "container.eviction"
	EventContainerCPUSpike        = "container.cpu-spike"
	EventContainerCPUSustained    = "container.cpu-sustained"
	EventContainerMemorySpike     = "container.memory-spike"
	EventContainerMemorySustained = "container.memory-sustained"
	EventVolumeUsage              = "volume.usage"
	EventVolumeForecastFull       = "volume.forecast-full"
	EventProbeFailing             = "probe.failing"
	EventDeployStarted            = "deploy.started"
	EventDeploySucceeded          = "deploy.succeeded"
	EventDeployFailed             = "deploy.failed"
	EventDeployRolledBack         = "deploy.rolled-back"
	EventAutoscalingScaled        = "autoscaling.scaled"
	EventAutoscalingLimited       = "autoscaling.limited"
	EventFlowStarted              = "flow.started"
	EventFlowSucceeded            = "flow.succeeded"
	EventFlowFailed               = "flow.failed"
	EventJobStarted               = "job.started"
	EventJobSucceeded             = "job.succeeded"
	EventJobFailed                = "job.failed"
	EventSpendThreshold           = "spend.threshold"
	EventSpendForecast            = "spend.forecast"
	EventSinkFailing              = "sink.failing"
	EventSinkRecovered            = "sink.recovered"
)

// EventNames lists every event name in the contract's order.
var EventNames = []string{
	EventContainerCrash, EventContainerOOM, EventContainerCrashLoop, EventContainerEviction,
	EventContainerCPUSpike, EventContainerCPUSustained, EventContainerMemorySpike, EventContainerMemorySustained,
	EventVolumeUsage, EventVolumeForecastFull, EventProbeFailing,
	EventDeployStarted, EventDeploySucceeded, EventDeployFailed, EventDeployRolledBack,
	EventAutoscalingScaled, EventAutoscalingLimited,
	EventFlowStarted, EventFlowSucceeded, EventFlowFailed,
	EventJobStarted, EventJobSucceeded, EventJobFailed,
	EventSpendThreshold, EventSpendForecast, EventSinkFailing, EventSinkRecovered,
}

// Severity of an event.
type Severity string

// Severities, from least to most urgent.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Event status: an alert fires, and later may resolve.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Event is something users are told about. Its JSON form is the generic
// webhook body of the user-facing contract.
type Event struct {
	ID       string    `json:"id"`
	Name     string    `json:"event"`
	Status   string    `json:"status"` // firing | resolved
	Severity Severity  `json:"severity"`
	Time     time.Time `json:"time"`
	Project  string    `json:"project,omitempty"`
	Service  string    `json:"service,omitempty"`
	Instance string    `json:"instance,omitempty"`
	Summary  string    `json:"summary"`
	// Data carries event-specific context: exit code and reason, the last
	// lines of a crashed container, metric values and thresholds, a link.
	Data map[string]any `json:"data,omitempty"`
}
