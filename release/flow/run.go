package flow

import (
	"strconv"
	"time"
)

// Run states, as the API shows them.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Step states.
const (
	StepPending   = "pending"
	StepRunning   = "running"
	StepWaiting   = "waiting" // an approval step waits for its approval
	StepRetrying  = "retrying"
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
	StepSkipped   = "skipped"
)

// Trigger kinds.
const (
	TriggerAPI      = "api"
	TriggerWebhook  = "webhook"
	TriggerGit      = "git"
	TriggerImage    = "image" // a new digest of a watched tag (package continuous)
	TriggerRollback = "rollback"
)

// Trigger says what started a run.
type Trigger struct {
	Kind string `json:"kind"`
	// By is the API token's name ("loopback" without tokens); for an
	// image trigger the image and tag it follows.
	By string `json:"by,omitempty"`
	// Provider and Delivery identify a webhook call (github, gitlab,
	// standard-webhooks and the sender's delivery id).
	Provider string `json:"provider,omitempty"`
	Delivery string `json:"delivery,omitempty"`
	// RollbackOf is the run a rollback run undoes.
	RollbackOf string `json:"rollbackOf,omitempty"`
}

// Run is one run of a flow.
type Run struct {
	ID      string            `json:"id"`
	Flow    string            `json:"flow"`
	State   string            `json:"state"`
	Trigger Trigger           `json:"trigger"`
	Args    map[string]string `json:"args"`
	Steps   []StepState       `json:"steps"`
	// Created is when the run was asked for; Started when its first step
	// could start (later than Created for a queued run).
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Message says why a run failed or was cancelled, and what a rollback
	// does not undo.
	Message string `json:"message,omitempty"`
	// Releases are the services the run deployed or promoted, with the
	// revision each ran before: what `opshub flow rollback` restores.
	Releases []Changed `json:"releases,omitempty"`
}

// Done tells whether the run has ended.
func (r Run) Done() bool { return r.State != RunQueued && r.State != RunRunning }

// Step returns the state of the named step.
func (r *Run) Step(name string) *StepState {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// StepState is how far one step of a run got.
type StepState struct {
	Name     string    `json:"name"`
	Kind     string    `json:"kind"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	Message  string    `json:"message,omitempty"`
	// Revision is the release a deploy, promote or rollback step made.
	Revision int `json:"revision,omitempty"`
	// JobRun is the run a job step started.
	JobRun string `json:"jobRun,omitempty"`
	// Backup is the archive a backup step wrote.
	Backup string `json:"backup,omitempty"`
	// Snapshots are the volume snapshots a backup step took on
	// Kubernetes, as namespace/name.
	Snapshots []string `json:"snapshots,omitempty"`
	// ApprovedBy names who approved an approval step.
	ApprovedBy string `json:"approvedBy,omitempty"`
}

// Changed is a service a run released, and the revision it ran before.
type Changed struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Previous int    `json:"previous"`
}

// record is what the store keeps of a run: the run and its steps with the
// arguments put in, so that a queued run runs what it was started with.
type record struct {
	Run  Run    `json:"run"`
	Plan []Step `json:"plan"`
}

// runID names a run after its flow and creation time: base-36
// milliseconds, so that ids sort by time.
func runID(flow string, at time.Time) string {
	return flow + "-" + strconv.FormatInt(at.UnixMilli(), 36)
}
