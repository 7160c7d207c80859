package config

import (
	"time"

	"github.com/robfig/cron/v3"
)

// CronParser reads a job's schedule: five fields or a descriptor, as a
// CronJob's.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// job checks the job keys of the workload at path p.
func (v *validator) job(p string, w Workload) {
	j := w.Job
	if !w.IsJob() {
		for _, k := range []string{"runAtStart", "schedule", "timeZone", "startingDeadlineSeconds", "concurrencyPolicy", "backoffLimit", "activeDeadline"} {
			if v.given(child(p, k)) {
				v.errorf(child(p, k), "is for jobs only: set restartPolicy Never or OnFailure")
			}
		}
		return
	}
	if j.Schedule != "" {
		if _, err := CronParser.Parse(j.Schedule); err != nil {
			v.errorf(child(p, "schedule"), "is not a cron schedule (five fields or @hourly, @daily, …): %v", err)
		}
	}
	if j.TimeZone != "" {
		if j.Schedule == "" {
			v.errorf(child(p, "timeZone"), "needs a schedule")
		}
		if _, err := time.LoadLocation(j.TimeZone); err != nil {
			v.errorf(child(p, "timeZone"), "is not a known time zone (such as Europe/Berlin): %v", err)
		}
	}
	if j.ConcurrencyPolicy != "" {
		v.oneOf(child(p, "concurrencyPolicy"), j.ConcurrencyPolicy, JobConcurrencyAllow, JobConcurrencyForbid, JobConcurrencyReplace)
	}
	v.between(child(p, "backoffLimit"), j.BackoffLimit, 0, 100)
	v.atLeast(child(p, "startingDeadlineSeconds"), j.StartingDeadlineSeconds, 0)
	if j.ActiveDeadline < 0 {
		v.errorf(child(p, "activeDeadline"), "must not be negative")
	}
}
