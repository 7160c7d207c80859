// Package flow runs release flows: named DAGs of steps (run a command, run
// a job, deploy or promote a service, back up a volume, call a URL, wait
// for an approval) started from the API, signed webhooks and git pushes.
// Steps whose needs have succeeded run in parallel; a failed step fails the
// run, lets running steps finish and skips the rest. Runs, their steps and
// their logs are kept in the store, so a restart loses none: a run that was
// running is failed as interrupted, a queued one still runs. flow.* events
// go to the alerting pipeline.
//
// The Engine does nothing itself that a platform or a sibling package owns:
// commands, jobs, releases and volume archives go through the small
// interfaces of deps.go, which cmd's wiring fills. It must not know the
// config file or the HTTP API's routes.
package flow
