package local

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// jobRunsKept bounds the finished job-run instances listed per job, as the
// pods of finished Jobs stay listed until they are cleaned up.
const jobRunsKept = 5

// jobRun is a job run's instance: its extra environment and how it ended.
type jobRun struct {
	env  map[string]string
	seq  uint64 // orders runs, oldest first, for pruning
	once sync.Once
	done chan struct{}
	exit model.Exit
	ran  bool
}

// ended records how the instance's one run ended; only the first call
// counts. A nil jobRun (a service's instance) ignores it.
func (j *jobRun) ended(exit model.Exit, ran bool) {
	if j == nil {
		return
	}
	j.once.Do(func() {
		j.exit, j.ran = exit, ran
		close(j.done)
	})
}

func (j *jobRun) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// ErrNotJob is returned by RunJob for a workload whose restart policy is
// Always.
var ErrNotJob = errors.New("not a job: its restartPolicy is Always")

// RunJob runs one attempt of a job: a new instance of the workload named
// instance, with env added to the workload's own environment, whose process
// runs once. started, when set, is called with the instance's name once it
// is created. RunJob returns how the process ended, after it has ended:
// when ctx ends first, the instance is stopped gracefully (SIGTERM, then
// SIGKILL after the grace period) and the exit says so. The instance stays
// listed (Terminated or Failed) with its logs, the newest few per job.
func (r *Runtime) RunJob(ctx context.Context, project, name, instance string, env map[string]string, started func(instance string)) (model.Exit, error) {
	r.mu.Lock()
	s := r.serviceLocked(project, name)
	switch {
	case s == nil:
		r.mu.Unlock()
		return model.Exit{}, fmt.Errorf("job %s/%s: %w", project, name, platform.ErrNotFound)
	case s.w.RestartPolicy == RestartAlways:
		r.mu.Unlock()
		return model.Exit{}, fmt.Errorf("job %s/%s: %w", project, name, ErrNotJob)
	case !r.running:
		r.mu.Unlock()
		return model.Exit{}, fmt.Errorf("job %s/%s: the local runtime is not running", project, name)
	}
	for _, in := range s.instances {
		if in.name == instance {
			r.mu.Unlock()
			return model.Exit{}, fmt.Errorf("job %s/%s: instance %s exists", project, name, instance)
		}
	}
	r.pruneJobRunsLocked(s)
	in, err := r.newInstanceLocked(s)
	if err != nil {
		r.mu.Unlock()
		return model.Exit{}, fmt.Errorf("job %s/%s: %w", project, name, err)
	}
	r.jobSeq++
	if instance != "" {
		in.name = instance
	}
	in.job = &jobRun{env: maps.Clone(env), seq: r.jobSeq, done: make(chan struct{})}
	r.startLocked(r.runCtx, in)
	job, stop, iname := in.job, in.cancel, in.name
	r.mu.Unlock()
	if started != nil {
		started(iname)
	}
	select {
	case <-job.done:
	case <-ctx.Done():
		stop()
		<-job.done
	}
	if !job.ran {
		return model.Exit{}, fmt.Errorf("job %s/%s: stopped before its process started", project, name)
	}
	return job.exit, nil
}

// pruneJobRunsLocked stops listing the oldest finished job runs of s beyond
// jobRunsKept-1, making room for one more.
func (r *Runtime) pruneJobRunsLocked(s *service) {
	var done []*instance
	for _, in := range s.instances {
		if in.job != nil && !in.removing && in.job.finished() {
			done = append(done, in)
		}
	}
	slices.SortFunc(done, func(a, b *instance) int { return int(a.job.seq) - int(b.job.seq) })
	for len(done) > jobRunsKept-1 {
		done[0].removing = true
		done[0].cancel()
		done = done[1:]
	}
}
