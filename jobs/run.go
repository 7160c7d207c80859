package jobs

import (
	"strconv"
	"time"
)

// Run states, as the API shows them.
const (
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
)

// Triggers: what started a run.
const (
	TriggerStart    = "start"    // opshub started and the job has runAtStart
	TriggerSchedule = "schedule" // its cron schedule
	TriggerAPI      = "api"      // the API or CLI
	TriggerFlow     = "flow"     // a flow's job step
)

// Run is one run of a job: one or more attempts, each an instance of the
// job's workload named <id>-<attempt>, whose logs are that instance's.
type Run struct {
	ID      string            `json:"id"`
	Project string            `json:"project"`
	Job     string            `json:"job"`
	State   string            `json:"state"`
	Trigger string            `json:"trigger"`
	Env     map[string]string `json:"env,omitempty"`
	Started time.Time         `json:"started"`
	// Finished is zero while the run is running.
	Finished time.Time `json:"finished,omitzero"`
	// ExitCode is the last attempt's; nil before any attempt ended.
	ExitCode  *int     `json:"exitCode,omitempty"`
	Attempts  int      `json:"attempts"`
	Instances []string `json:"instances"`
	// Message says why a run failed (BackoffLimitExceeded,
	// DeadlineExceeded, replaced, interrupted).
	Message string `json:"message,omitempty"`
}

// key orders a job's runs oldest first in the store.
func (r Run) key() string { return r.Project + "/" + r.Job + "/" + r.ID }

// runID names a run after its job and start time: base-36 milliseconds,
// eight digits until 2059, so that ids sort by time.
func runID(job string, started time.Time) string {
	return job + "-" + strconv.FormatInt(started.UnixMilli(), 36)
}
