package model

import "time"

// InstanceEventKind names what happened to an instance.
type InstanceEventKind string

// Instance event kinds emitted by platforms.
const (
	InstanceStarted   InstanceEventKind = "started"
	InstanceExited    InstanceEventKind = "exited"
	InstanceRestarted InstanceEventKind = "restarted"
	InstanceOOMKilled InstanceEventKind = "oom-killed"
	InstanceStopped   InstanceEventKind = "stopped" // stopped on request (scale down, shutdown)
	InstanceBackoff   InstanceEventKind = "backoff" // waiting in restart back-off
	InstanceReady     InstanceEventKind = "ready"
	InstanceNotReady  InstanceEventKind = "not-ready"
	// InstanceProbeFailing: a probe's result turned to failure after
	// failureThreshold consecutive failures. Probe holds its status.
	InstanceProbeFailing InstanceEventKind = "probe-failing"
	// InstanceProbeRecovered: a probe that was failing passes again
	// (successThreshold consecutive successes). Probe holds its status.
	InstanceProbeRecovered InstanceEventKind = "probe-recovered"
	// InstanceEvicted: the platform evicted the instance (Kubernetes:
	// pod status reason Evicted, or a DisruptionTarget condition for
	// eviction or node pressure). Message holds the platform's words.
	InstanceEvicted InstanceEventKind = "evicted"
)

// InstanceEvent is one change to one instance, as a platform reports it.
// Detectors in alerting turn these into user-facing Events.
type InstanceEvent struct {
	Kind     InstanceEventKind `json:"kind"`
	Ref      Ref               `json:"ref"`
	Time     time.Time         `json:"time"`
	Status   Status            `json:"status"`
	Restarts int               `json:"restarts"`
	// Exit is set for exited, restarted and oom-killed events.
	Exit *Exit `json:"exit,omitempty"`
	// Backoff is the wait before the next start, for backoff events.
	Backoff time.Duration `json:"backoff,omitempty"`
	// Probe is the probe's status, for probe-failing and probe-recovered
	// events (its History is left out).
	Probe *ProbeStatus `json:"probe,omitempty"`
	// Reason and Message are the platform's own words for the event when
	// it has them (Kubernetes: "CrashLoopBackOff" and the kubelet's
	// message for backoff events, "Evicted" and its message for evicted).
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}
