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

// SpecError is a run spec a platform refuses; Field names the spec field
// (image, command, env, workingDir, container).
type SpecError struct {
	Field string
	Msg   string
}

func (e *SpecError) Error() string { return e.Field + ": " + e.Msg }
