package flow

import (
	"context"
	"io"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/release"
)

// Command is one attempt of a run step.
type Command struct {
	Flow, Run, Step string
	Attempt         int
	Command         []string
	Env             map[string]string
	WorkingDir      string
}

// Commands runs run steps: on one machine a process, on Kubernetes a Job
// from the flow's jobTemplate.
type Commands interface {
	// RunCommand runs c until it ends or ctx ends (then it is stopped),
	// writing its output to out. It returns the exit code; an error means
	// the command could not be run or followed.
	RunCommand(ctx context.Context, c Command, out io.Writer) (exitCode int, err error)
}

// CommandStopper is implemented by Commands whose commands outlive the
// process that started them (on Kubernetes, Jobs): the engine stops the
// attempts of run steps that a previous process left running when it
// fails their run as interrupted, as the processes of a run step are
// stopped on one machine.
type CommandStopper interface {
	// StopCommand stops the attempt c (only Flow, Run, Step and Attempt
	// are set) and says what it did; one that has ended or is gone is no
	// error.
	StopCommand(ctx context.Context, c Command) (string, error)
}

// JobResult is how a job run ended.
type JobResult struct {
	ID       string
	State    string // succeeded or failed
	Message  string
	Attempts int
	ExitCode *int
	// Lines are the last lines of the run's last attempt.
	Lines []string
}

// Jobs runs declared jobs (package jobs on one machine and on Kubernetes).
type Jobs interface {
	// RunJob starts a run of project/name with env added to its
	// environment, calls started with its id, and returns once it has
	// ended. A job that cannot start returns an error.
	RunJob(ctx context.Context, project, name string, env map[string]string, started func(id string)) (JobResult, error)
}

// Releases is the release engine (*release.Manager): deploy and promote
// steps make releases through it and wait for them, whatever the platform.
type Releases interface {
	Deploy(ctx context.Context, ref model.Ref, ch release.Change, trigger model.ReleaseTrigger) (model.Release, error)
	Rollback(ctx context.Context, ref model.Ref, revision int, trigger model.ReleaseTrigger, reason string) (model.Release, error)
	Releases(ctx context.Context, ref model.Ref) ([]model.Release, error)
}

// Volumes archives volumes.
type Volumes interface {
	// BackupVolume writes a gzip-compressed tar of the volume to w, taken
	// while the service's instances write nothing to it.
	BackupVolume(ctx context.Context, project, service, volume string, w io.Writer) error
}

// SnapshotRequest is one attempt of a backup step taken as a volume
// snapshot of the platform.
type SnapshotRequest struct {
	Flow, Run, Step string
	Attempt         int
	Project         string
	Service         string
	Volume          string
	// Class is the backup step's volumeSnapshotClass ("" for the
	// cluster's default).
	Class string
}

// Snapshots takes backup steps as the platform's volume snapshots (on
// Kubernetes, CSI VolumeSnapshots of the claims behind the volume).
type Snapshots interface {
	// SnapshotVolume snapshots the volume, waits until every snapshot is
	// ready to use or ctx ends, writes its progress to out and returns
	// the snapshots' names. A failed attempt leaves no snapshot behind.
	SnapshotVolume(ctx context.Context, req SnapshotRequest, out io.Writer) ([]string, error)
	// DeleteSnapshots deletes snapshots SnapshotVolume made: a pruned
	// run's backups go with it.
	DeleteSnapshots(ctx context.Context, names []string) error
}
