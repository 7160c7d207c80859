package model

import "time"

// Status is a container's state as users see it. The words are fixed by the
// user-facing contract and are the same on every platform.
type Status string

// The container statuses, in the order a container usually passes through them.
const (
	StatusStaging     Status = "Staging"     // accepted, not yet started (image pull, scheduling)
	StatusStarting    Status = "Starting"    // process started, startup not yet complete
	StatusRunning     Status = "Running"     // running and past startup
	StatusCrashing    Status = "Crashing"    // exited unexpectedly and waiting in restart back-off
	StatusTerminating Status = "Terminating" // asked to stop, within its grace period
	StatusTerminated  Status = "Terminated"  // stopped and will not be restarted (success or by request)
	StatusFailed      Status = "Failed"      // exited with an error and will not be restarted
)

// Exit describes how one run of a container ended.
type Exit struct {
	// Code is the exit code; -1 when the process was killed by a signal.
	Code int `json:"code"`
	// Signal is the name of the signal that killed the process, if any ("SIGKILL").
	Signal string `json:"signal,omitempty"`
	// Reason is a short CamelCase word in the kubelet's vocabulary:
	// "Completed", "Error", "OOMKilled", "Signaled", "LivenessProbeFailed", …
	Reason string `json:"reason"`
	// OOMKilled is true when the kernel's OOM killer ended the process.
	OOMKilled bool      `json:"oomKilled,omitempty"`
	Time      time.Time `json:"time"`
}

// ProbeStatus is the state of one probe of one container.
type ProbeStatus struct {
	Type string `json:"type"` // liveness | readiness | startup
	// Result is the probe's effective result, after its thresholds: what
	// the platform acts on (ready or not, restart or not).
	Result string `json:"result"` // success | failure | unknown
	// Consecutive counts the latest probe runs in a row with the same
	// outcome as the last one (a warning counts as a success).
	Consecutive int `json:"consecutive"`
	// LatencyMs is how long the last probe run took.
	LatencyMs float64 `json:"latencyMs"`
	// Message is a snippet of the last run's response (a body, a command's
	// output) or why it failed ("HTTP probe failed with statuscode: 500").
	Message        string    `json:"message,omitempty"`
	LastTransition time.Time `json:"lastTransition"`
	// Handler describes the check: "http GET :8080/ready", "tcp :8080",
	// "exec [cat /tmp/healthy]", "grpc :9090".
	Handler string `json:"handler,omitempty"`
	// LastProbe is when the last run started; zero before the first run.
	LastProbe time.Time `json:"lastProbe,omitzero"`
	// LastFailure is the most recent failed run, also after recovery.
	LastFailure *ProbeRun `json:"lastFailure,omitempty"`
	// History holds the last runs (at most 100), oldest first. Platforms
	// fill it for a single service only; lists leave it out.
	History []ProbeRun `json:"history,omitempty"`
}

// ProbeRun is one run of a probe.
type ProbeRun struct {
	Time      time.Time `json:"time"`
	Result    string    `json:"result"` // success | warning | failure
	LatencyMs float64   `json:"latencyMs"`
	// Message is set for the LastFailure only.
	Message string `json:"message,omitempty"`
}

// Instance is one running copy of a service: a pod on Kubernetes, one
// supervised process group on a single machine.
type Instance struct {
	Name      string `json:"name"`
	Container string `json:"container"`
	UID       string `json:"uid,omitempty"`
	Status    Status `json:"status"`
	Ready     bool   `json:"ready"`
	Restarts  int    `json:"restarts"`
	LastExit  *Exit  `json:"lastExit,omitempty"`
	// RecentExits holds the most recent exits, newest first (bounded).
	RecentExits []Exit        `json:"recentExits,omitempty"`
	Probes      []ProbeStatus `json:"probes"`

	// StartedAt is when the current run started; zero when not running.
	StartedAt time.Time `json:"startedAt,omitzero"`
	// NextRestart is when a crashing instance will be started again.
	NextRestart time.Time `json:"nextRestart,omitzero"`
	// Backoff is the current restart back-off, as a Go duration string.
	Backoff string `json:"backoff,omitempty"`
	// PID of the process group leader, local platform only.
	PID int `json:"pid,omitempty"`
	// Port is the instance's own port ($PORT), local platform only.
	Port int `json:"port,omitempty"`
	// Limits tells whether resource limits are enforced for this instance.
	Limits *LimitStatus `json:"limits,omitempty"`
	// Node is the machine the instance runs on (Kubernetes: the pod's
	// node); empty before it is placed and on a single machine.
	Node string `json:"node,omitempty"`
	// NodePool is the pool the instance's node belongs to (Kubernetes: the
	// value of the first well-known node-pool label the node carries, such
	// as karpenter.sh/nodepool or cloud.google.com/gke-nodepool); spend
	// prices it by pool when spend.overrides names one.
	NodePool string `json:"nodePool,omitempty"`
	// Requests are the resources the instance's container asks for
	// (Kubernetes: the container's resources.requests); nil when the
	// platform does not say, and then the workload's declared resources
	// apply. Autoscaling measures utilization against them and spend
	// charges them.
	Requests *Requests `json:"requests,omitempty"`
	// Surge marks an instance a rollout runs above the desired replicas
	// for a while (Kubernetes: the newest pods of a Deployment beyond
	// spec.replicas while pods of more than one ReplicaSet run). The
	// autoscaler leaves surge instances out.
	Surge bool `json:"surge,omitempty"`
}

// Requests are a container's resource requests; a zero field means no
// request for that resource.
type Requests struct {
	CPU    float64 `json:"cpu,omitempty"`    // cores
	Memory float64 `json:"memory,omitempty"` // bytes
}

// LimitStatus reports the resource limits of an instance and whether the
// platform enforces them.
type LimitStatus struct {
	CPU      string `json:"cpu,omitempty"`
	Memory   string `json:"memory,omitempty"`
	Enforced bool   `json:"enforced"`
	Reason   string `json:"reason,omitempty"` // why not enforced
}

// Service is a group of identical instances.
type Service struct {
	Project   string     `json:"project"`
	Name      string     `json:"name"`
	Replicas  int        `json:"replicas"`
	Port      int        `json:"port,omitempty"`
	Instances []Instance `json:"instances"`
}

// Ref returns the service's reference.
func (s Service) Ref() Ref { return Ref{Project: s.Project, Service: s.Name} }
