package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/jobs"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/store"
)

// JobSpecs maps the config's jobs (workloads with restartPolicy Never or
// OnFailure) onto package jobs' specs.
func JobSpecs(cfg *config.Config) []jobs.Spec {
	var out []jobs.Spec
	for _, w := range cfg.Workloads {
		if !w.IsJob() {
			continue
		}
		j := w.Job
		out = append(out, jobs.Spec{
			Project: w.Project, Name: w.Name,
			RunAtStart:       j.StartsAtStart(),
			Schedule:         j.Schedule,
			TimeZone:         j.TimeZone,
			StartingDeadline: time.Duration(j.StartingDeadlineSeconds) * time.Second,
			Concurrency:      j.ConcurrencyPolicy,
			BackoffLimit:     j.BackoffLimit,
			ActiveDeadline:   j.ActiveDeadline.D(),
		})
	}
	return out
}

func newJobs(cfg *config.Config, runner jobs.Runner, db *store.DB, publish func(model.Event), retryDelay time.Duration, log *slog.Logger) (*jobs.Engine, error) {
	return jobs.New(JobSpecs(cfg), jobs.Options{Runner: runner, DB: db, Publish: publish, RetryDelay: retryDelay, Logger: log})
}

// waitReady waits until ready says yes, or ctx ends (false).
func waitReady(ctx context.Context, ready func() bool) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// localReady is opshub run's readiness: the runtime runs its instances, and
// the job and flow engines, which start once it does, take runs (so that a
// client that waited for /readyz is not told "not running flows now").
func localReady(runtime func() bool, jobs interface{ Running() bool }, flows interface{ Running() bool }) func() (bool, string) {
	return func() (bool, string) {
		switch {
		case !runtime():
			return false, "local runtime is starting"
		case !jobs.Running():
			return false, "the job engine is starting"
		case !flows.Running():
			return false, "the flow engine is starting"
		}
		return true, ""
	}
}
