package autoscaler

import (
	"context"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// UsageReader gives the latest usage of one container. The metrics store
// satisfies it through a small adapter.
type UsageReader interface {
	Usage(ref model.Ref, r Resource) (Sample, bool)
}

// PlatformSource observes services through a platform, a usage reader, and
// the requests of each service's containers (the workload's resources on a
// single machine, the pod spec on Kubernetes).
//
// Surge instances (model.Instance.Surge: the pods a rolling update runs
// above the desired replicas) are reported as Ignored, so a
// rollout's extra pods and their start-up load neither dilute nor inflate
// utilization; the current replica count is the desired one, which never
// includes them.
type PlatformSource struct {
	Platform platform.Platform
	Usage    UsageReader
	// Requests per service, per resource: cores for cpu, bytes for memory.
	Requests map[model.Ref]map[Resource]float64

	mu sync.Mutex
	// seen remembers each instance's readiness between passes, because the
	// platform reports readiness but not its last transition: an instance
	// ready when first seen is taken to have been ready since it started; a
	// later transition to ready is dated to the pass that saw it, accurate to
	// one interval, which is what the CPU initialization rule needs.
	seen map[model.Ref]map[string]readiness
}

type readiness struct {
	ready bool
	since time.Time
}

var _ Source = (*PlatformSource)(nil)

// Observe implements Source.
func (s *PlatformSource) Observe(ctx context.Context, ref model.Ref, now time.Time) (int, []Pod, error) {
	svc, err := s.Platform.Service(ctx, ref.Project, ref.Service)
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[model.Ref]map[string]readiness{}
	}
	before := s.seen[ref]
	current := map[string]readiness{}
	pods := make([]Pod, 0, len(svc.Instances))
	for _, in := range svc.Instances {
		p := Pod{
			Name:      in.Name,
			StartTime: in.StartedAt,
			Ready:     in.Ready,
			Requests:  requestsOf(in, s.Requests[ref.ServiceRef()]),
			Usage:     map[Resource]Sample{},
		}
		switch in.Status {
		case model.StatusStaging, model.StatusStarting:
			p.Pending = true
		case model.StatusTerminating, model.StatusTerminated, model.StatusFailed:
			p.Ignored = true
		case model.StatusCrashing:
			p.Pending = true // waiting to start again
		}
		if in.Surge {
			p.Ignored, p.Pending = true, false
		}
		r, known := before[in.Name]
		switch {
		case !known:
			r = readiness{ready: in.Ready, since: in.StartedAt}
			if r.since.IsZero() {
				r.since = now
			}
		case r.ready != in.Ready:
			r = readiness{ready: in.Ready, since: now}
		}
		current[in.Name] = r
		p.ReadySince = r.since
		if !p.Pending && !p.Ignored && s.Usage != nil {
			c := model.Ref{Project: ref.Project, Service: ref.Service, Instance: in.Name, Container: in.Container}
			for _, r := range []Resource{CPU, Memory} {
				if sample, ok := s.Usage.Usage(c, r); ok {
					p.Usage[r] = sample
				}
			}
		}
		pods = append(pods, p)
	}
	s.seen[ref] = current
	return svc.Replicas, pods, nil
}

// requestsOf returns the instance's own requests when the platform reports
// them (Kubernetes: the pod spec), else the service's declared ones.
func requestsOf(in model.Instance, declared map[Resource]float64) map[Resource]float64 {
	if in.Requests == nil {
		return declared
	}
	out := map[Resource]float64{}
	if in.Requests.CPU > 0 {
		out[CPU] = in.Requests.CPU
	}
	if in.Requests.Memory > 0 {
		out[Memory] = in.Requests.Memory
	}
	return out
}
