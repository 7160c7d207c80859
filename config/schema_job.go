package config

// JobSpec are a job's keys, with the meaning of a Kubernetes Job's and
// CronJob's fields. They are accepted only on a workload whose restartPolicy
// is Never or OnFailure.
type JobSpec struct {
	// RunAtStart runs the job once when opshub starts; default true, or
	// false when Schedule is set.
	RunAtStart *bool `yaml:"runAtStart,omitempty"`
	// Schedule is a cron schedule: five fields, or @hourly, @daily,
	// @weekly, @monthly, @yearly, @every DURATION.
	Schedule string `yaml:"schedule,omitempty"`
	// TimeZone is the IANA zone the schedule is read in; default UTC.
	TimeZone string `yaml:"timeZone,omitempty"`
	// StartingDeadlineSeconds: a scheduled run missed by more than this
	// (opshub was down) is skipped; 0 means no deadline. Whatever the
	// deadline, at most one missed run is made up.
	StartingDeadlineSeconds int `yaml:"startingDeadlineSeconds,omitempty"`
	// ConcurrencyPolicy is Allow, Forbid or Replace; default Allow.
	ConcurrencyPolicy string `yaml:"concurrencyPolicy,omitempty"`
	// BackoffLimit is how many times a failed run is retried; default 0.
	BackoffLimit int `yaml:"backoffLimit,omitempty"`
	// ActiveDeadline stops and fails a run (all its attempts) still going
	// after it; 0 means none.
	ActiveDeadline Duration `yaml:"activeDeadline,omitempty"`
}

// Job concurrency policies, as a CronJob's.
const (
	JobConcurrencyAllow   = "Allow"
	JobConcurrencyForbid  = "Forbid"
	JobConcurrencyReplace = "Replace"
)

// IsJob reports whether the workload is a job: restartPolicy Never or
// OnFailure.
func (w Workload) IsJob() bool {
	return w.RestartPolicy == RestartNever || w.RestartPolicy == RestartOnFailure
}

// StartsAtStart reports whether the job runs once when opshub starts.
func (j JobSpec) StartsAtStart() bool {
	if j.RunAtStart != nil {
		return *j.RunAtStart
	}
	return j.Schedule == ""
}
