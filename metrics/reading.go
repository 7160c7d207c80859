package metrics

import (
	"context"
	"time"

	"github.com/opshub/opshub/model"
)

// Value is a measurement that a source may or may not have.
type Value struct {
	V     float64
	Valid bool
}

// Known returns a valid Value.
func Known(v float64) Value { return Value{V: v, Valid: true} }

// VolumeReading is the usage of one volume.
type VolumeReading struct {
	Name     string
	Used     Value // bytes
	Capacity Value // bytes
	Inodes   Value // files and directories
}

// Reading is what a source read about one container at one time. Counters
// are cumulative since the container's current run started (as the kernel
// and cAdvisor report them); the Rater turns them into rates.
//
// A reading whose Ref names no instance carries only Volumes: volumes that
// belong to a service rather than to one of its instances.
type Reading struct {
	Ref  model.Ref
	Time time.Time
	// StartedAt is when the container's current run started. A different
	// StartedAt than before means the container restarted and its counters
	// began again from zero. Zero when the source cannot tell.
	StartedAt time.Time
	Restarts  Value

	CPUSeconds     Value // counter: CPU time used, seconds
	NetworkRxBytes Value // counter
	NetworkTxBytes Value // counter
	DiskReadBytes  Value // counter
	DiskWriteBytes Value // counter

	MemoryWorkingSet Value // bytes
	MemoryRSS        Value // bytes
	FilesystemUsed   Value // bytes

	// Requests and limits; invalid (or zero) when none is set.
	CPURequest, CPULimit       Value // cores
	MemoryRequest, MemoryLimit Value // bytes

	Volumes []VolumeReading
}

// Source reads every container it can see.
//
// Callers may rely on Read returning one Reading per running container (and
// per service volume), with Time set to the moment of reading; a container
// that is not running is left out, which is how its series end. Read may
// return readings together with an error describing what it could not read.
type Source interface {
	Read(ctx context.Context, now time.Time) ([]Reading, error)
}
