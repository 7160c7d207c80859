package flow

import "time"

// Concurrency policies: what a run started while another of the same flow
// is queued or running does.
const (
	Allow  = "allow"  // runs at once, beside the others
	Queue  = "queue"  // waits until the runs before it have ended, in order
	Forbid = "forbid" // is refused
)

// Spec is one flow as configured.
type Spec struct {
	Name string
	// Concurrency is Allow, Queue (the default) or Forbid.
	Concurrency string
	Webhooks    []Webhook
	Git         []Git
	Steps       []Step
}

// Webhook is a signed inbound trigger (POST /hooks/flows/{name}).
type Webhook struct {
	Secret []byte
	// Branch, when set, lets only push payloads to it start runs.
	Branch string
}

// Git is a polled repository branch; each new head commit starts a run.
type Git struct {
	Repo, Branch string
	// Interval between two reads; default 1m.
	Interval time.Duration
}

// Step is one node of a flow. Exactly one kind is set. Every string in it
// may hold ${ARG_<NAME>}, replaced by the run's arguments when it starts.
type Step struct {
	Name    string            `json:"name"`
	Needs   []string          `json:"needs,omitempty"`
	Retries int               `json:"retries,omitempty"`
	Timeout time.Duration     `json:"timeout,omitempty"`
	Env     map[string]string `json:"env,omitempty"`

	Run      *RunStep      `json:"run,omitempty"`
	Job      *JobStep      `json:"job,omitempty"`
	Deploy   *DeployStep   `json:"deploy,omitempty"`
	Promote  *PromoteStep  `json:"promote,omitempty"`
	Backup   *BackupStep   `json:"backup,omitempty"`
	HTTP     *HTTPStep     `json:"http,omitempty"`
	Approval *ApprovalStep `json:"approval,omitempty"`
	// Rollback is the kind of the steps of a rollback run; it is never
	// configured.
	Rollback *RollbackStep `json:"rollback,omitempty"`
}

// Kind names the step's kind.
func (s Step) Kind() string {
	switch {
	case s.Run != nil:
		return "run"
	case s.Job != nil:
		return "job"
	case s.Deploy != nil:
		return "deploy"
	case s.Promote != nil:
		return "promote"
	case s.Backup != nil:
		return "backup"
	case s.HTTP != nil:
		return "http"
	case s.Approval != nil:
		return "approval"
	case s.Rollback != nil:
		return "rollback"
	}
	return ""
}

// RunStep runs a one-off command.
type RunStep struct {
	Command    []string          `json:"command"`
	Env        map[string]string `json:"env,omitempty"`
	WorkingDir string            `json:"workingDir,omitempty"`
}

// JobStep runs a declared job and waits for the run.
type JobStep struct {
	Project string            `json:"project"`
	Name    string            `json:"name"`
	Env     map[string]string `json:"env,omitempty"`
}

// DeployStep rolls out a release of a service; empty fields keep the
// current value.
type DeployStep struct {
	Project   string            `json:"project"`
	Service   string            `json:"service"`
	Image     string            `json:"image,omitempty"`
	Container string            `json:"container,omitempty"`
	Command   []string          `json:"command,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	Version   string            `json:"version,omitempty"`
}

// ServiceRef names a service.
type ServiceRef struct {
	Project string `json:"project"`
	Service string `json:"service"`
}

// PromoteStep copies the current release spec of From onto To.
type PromoteStep struct {
	From ServiceRef `json:"from"`
	To   ServiceRef `json:"to"`
}

// BackupStep archives a service's volume, or snapshots it where the
// engine has Snapshots.
type BackupStep struct {
	Project string `json:"project"`
	Service string `json:"service"`
	Volume  string `json:"volume"`
	// VolumeSnapshotClass is the class of the snapshots (Kubernetes); ""
	// for the cluster's default.
	VolumeSnapshotClass string `json:"volumeSnapshotClass,omitempty"`
}

// HTTPStep calls a URL.
type HTTPStep struct {
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// ApprovalStep waits for an approval.
type ApprovalStep struct {
	Message string `json:"message,omitempty"`
}

// RollbackStep puts a service back to a revision's spec.
type RollbackStep struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Revision int    `json:"revision"`
}

// DefaultApprovalTimeout is how long an approval step without a timeout
// waits.
const DefaultApprovalTimeout = 24 * time.Hour
