// Package jobs runs jobs: workloads that run to completion, started when
// opshub starts, on demand (API, CLI, flows) and on a cron schedule, with
// a Kubernetes Job's and CronJob's rules (concurrencyPolicy, backoffLimit,
// activeDeadlineSeconds, startingDeadlineSeconds). It keeps each job's run
// history in the store and publishes job.* events.
//
// It does not start processes itself: a Runner (the platform) runs each
// attempt as an instance whose logs are collected as any instance's. The
// package must not know the config file or the HTTP API.
package jobs
