// Package platform defines the contract between opshub and whatever runs the
// containers it watches: the local process runtime on one machine, or the
// Kubernetes API on a cluster. Every feature above it (logs, metrics, alerts,
// probes, autoscaling, releases) talks to a Platform and never to a concrete
// runtime, so one code path serves both ways of running.
//
// This package holds only the interface and its small value types; it must
// not import any implementation.
package platform

import (
	"context"
	"time"

	"github.com/opshub/opshub/model"
)

// Platform runs or observes services.
//
// Callers may rely on:
//   - Services and Service return snapshots; mutating them changes nothing.
//   - Subscribe delivers every instance event that happens after it returns,
//     in order per instance, until ctx ends; then the channel is closed. A
//     subscriber that does not keep up loses the oldest events, never blocks
//     the platform, and the loss is counted.
//   - Scale changes the desired replica count and returns once the change is
//     accepted, not once instances are running.
type Platform interface {
	// Services lists every service with its instances, sorted by project and name.
	Services(ctx context.Context) ([]model.Service, error)
	// Service returns one service, or an error wrapping ErrNotFound.
	Service(ctx context.Context, project, name string) (model.Service, error)
	// Subscribe streams instance events until ctx ends.
	Subscribe(ctx context.Context) <-chan model.InstanceEvent
	// Scale sets the desired number of instances of a service.
	Scale(ctx context.Context, project, name string, replicas int) error
}

// ErrNotFound is wrapped by errors for services or instances that do not exist.
var ErrNotFound = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string { return "not found" }

// Releaser is a Platform that can roll out a new run spec of a service (a
// release). It does what a Deployment controller does and nothing more:
// recording releases, deadlines and rollbacks belong to package release.
//
// Callers may rely on:
//   - SetTemplate returns once the new spec is accepted; instances are then
//     replaced by the service's strategy (RollingUpdate or Recreate), and a
//     later SetTemplate redirects a rollout in progress.
//   - CheckTemplate refuses, before anything stops, a spec the platform
//     could not run (a program that cannot be found, a field it has no use
//     for); its error is a *SpecError naming the field.
//   - RolloutProgress reports progress towards the current template.
type Releaser interface {
	Template(ctx context.Context, project, name string) (model.RunSpec, error)
	CheckTemplate(ctx context.Context, project, name string, spec model.RunSpec) error
	SetTemplate(ctx context.Context, project, name string, spec model.RunSpec) error
	RolloutProgress(ctx context.Context, project, name string) (model.RolloutStatus, error)
}

// ExternalReleaser is a Releaser on a platform where a service's run spec
// can also change without opshub (kubectl, a GitOps tool on Kubernetes) and
// that keeps revisions of its own (a Deployment's ReplicaSets). The release
// engine records such changes as releases triggered by external.
//
// Callers may rely on:
//   - ObservedTemplates reads caches only (no request per service), so it
//     can be called every second.
//   - A template that opshub wrote with SetTemplate and that the caches have
//     not seen yet is reported with Settled false, never as a change.
type ExternalReleaser interface {
	Releaser
	ObservedTemplates(ctx context.Context) ([]ObservedTemplate, error)
	// Revisions lists the platform's own earlier revisions of a service,
	// oldest first, for the history of a service opshub sees for the
	// first time.
	Revisions(ctx context.Context, project, name string) ([]Revision, error)
}

// EnvReader is a Releaser that lists the environment of a service's
// instances itself, because part of it is not in the run spec (on
// Kubernetes, the groups a pod template takes with envFrom). A secret
// value is model.SecretValue.
type EnvReader interface {
	Env(ctx context.Context, project, name string) ([]model.EnvVar, error)
}

// ObservedTemplate is a service's run spec as the platform last saw it.
type ObservedTemplate struct {
	Project, Service string
	Spec             model.RunSpec
	// Settled is false while the platform has not seen opshub's last
	// change of the template yet.
	Settled bool
	// By names who changed the template last (a field manager such as
	// kubectl-set), when known.
	By string
	// Unmanaged is set when the service opted out of opshub's releases;
	// it says why, as an UnmanagedError would.
	Unmanaged string
}

// Revision is one of the platform's own revisions of a service.
type Revision struct {
	Revision int64
	Spec     model.RunSpec
	Created  time.Time
	// Cause is the recorded change cause, if any.
	Cause string
}

// UnmanagedError refuses a change of a service whose releases are made
// outside opshub (on Kubernetes, the opshub.dev/releases: disabled
// annotation of a workload a GitOps tool manages).
type UnmanagedError struct{ Msg string }

func (e *UnmanagedError) Error() string { return e.Msg }

// SpecError is a run spec a platform refuses; Field names the spec field
// (image, command, env, workingDir, container).
type SpecError struct {
	Field string
	Msg   string
}

func (e *SpecError) Error() string { return e.Field + ": " + e.Msg }
