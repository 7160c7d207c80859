package metrics

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
)

// DefaultRetention is how far back the Store answers.
const DefaultRetention = time.Hour

// seriesKey names one series.
type seriesKey struct {
	ref    model.Ref
	typ    model.MetricType
	volume string
}

// Store keeps recent samples of every series in memory. It is safe for
// concurrent use.
type Store struct {
	retention time.Duration
	capacity  int

	mu     sync.RWMutex
	series map[seriesKey]*ring
	// byInstance indexes the series of each instance (its ref without the
	// container), for Latest.
	byInstance map[model.Ref][]seriesKey
}

// NewStore returns a store that keeps retention of history for samples
// arriving every interval (it keeps a few points more than that, so a full
// retention window is always answerable).
func NewStore(retention, interval time.Duration) *Store {
	if retention <= 0 {
		retention = DefaultRetention
	}
	if interval <= 0 {
		interval = 15 * time.Second
	}
	return &Store{
		retention:  retention,
		capacity:   int(retention/interval) + 4,
		series:     map[seriesKey]*ring{},
		byInstance: map[model.Ref][]seriesKey{},
	}
}

// Add stores samples. Sources other than the scraper use it too: the log
// collector adds one model.MetricLogLines sample per container per interval,
// its lines per second over that interval.
func (s *Store) Add(samples ...model.Sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sm := range samples {
		k := seriesKey{ref: sm.Ref, typ: sm.Type, volume: sm.Volume}
		r := s.series[k]
		if r == nil {
			r = newRing(s.capacity)
			s.series[k] = r
			in := instanceOf(k)
			s.byInstance[in] = append(s.byInstance[in], k)
		}
		r.add(point{t: sm.Time.UnixMilli(), v: sm.Value})
	}
}

// Prune forgets series with no point since now minus the retention.
func (s *Store) Prune(now time.Time) {
	cutoff := now.Add(-s.retention).UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.series {
		if p, ok := r.last(); !ok || p.t < cutoff {
			delete(s.series, k)
			in := instanceOf(k)
			if keys := slices.DeleteFunc(s.byInstance[in], func(x seriesKey) bool { return x == k }); len(keys) > 0 {
				s.byInstance[in] = keys
			} else {
				delete(s.byInstance, in)
			}
		}
	}
}

func instanceOf(k seriesKey) model.Ref {
	return model.Ref{Project: k.ref.Project, Service: k.ref.Service, Instance: k.ref.Instance}
}

// Latest returns the newest point within [from, to] of one container's
// series of typ: the series of ref itself, or, when it has none there (a
// sample source that does not name containers, or ref.Container empty),
// that of the instance's first container by name that has one. It costs a
// map lookup, where Query looks at every series: the autoscaler and spend
// ask it for every container of the cluster at each pass.
func (s *Store) Latest(ref model.Ref, typ model.MetricType, from, to time.Time) (model.MetricPoint, bool) {
	f, t := from.UnixMilli(), to.UnixMilli()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ref.Container != "" {
		if r := s.series[seriesKey{ref: ref, typ: typ}]; r != nil {
			if p, ok := r.latest(f, t); ok {
				return model.MetricPoint{Time: time.UnixMilli(p.t).UTC(), Value: p.v}, true
			}
		}
	}
	var best point
	var bestContainer string
	found := false
	for _, k := range s.byInstance[model.Ref{Project: ref.Project, Service: ref.Service, Instance: ref.Instance}] {
		if k.typ != typ || k.volume != "" || (found && k.ref.Container >= bestContainer) {
			continue
		}
		if p, ok := s.series[k].latest(f, t); ok {
			best, bestContainer, found = p, k.ref.Container, true
		}
	}
	if !found {
		return model.MetricPoint{}, false
	}
	return model.MetricPoint{Time: time.UnixMilli(best.t).UTC(), Value: best.v}, true
}

// Len returns the number of series held.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.series)
}

// Query selects series. Empty fields select everything.
type Query struct {
	Project, Service string
	// Container matches an instance name or a container name.
	Container string
	Types     []model.MetricType
	From, To  time.Time
	// Step is the resolution: points are averaged into buckets of Step
	// aligned to Unix time; zero keeps every point.
	Step time.Duration
}

func (q Query) matches(k seriesKey) bool {
	return (q.Project == "" || q.Project == k.ref.Project) &&
		(q.Service == "" || q.Service == k.ref.Service) &&
		(q.Container == "" || q.Container == k.ref.Instance || q.Container == k.ref.Container) &&
		(len(q.Types) == 0 || slices.Contains(q.Types, k.typ))
}

// Query returns the matching series with at least one point in the range,
// sorted by type (in model.MetricTypes order), service, instance and volume.
// A query for one container still returns the service's volume series.
func (s *Store) Query(q Query) []model.MetricSeries {
	from, to := q.From.UnixMilli(), q.To.UnixMilli()
	var out []model.MetricSeries
	s.mu.RLock()
	for k, r := range s.series {
		if !q.matches(k) && !(q.Container != "" && k.ref.Instance == "" && k.volume != "" && q.withoutContainer().matches(k)) {
			continue
		}
		var pts []model.MetricPoint
		r.each(from, to, func(p point) {
			pts = append(pts, model.MetricPoint{Time: time.UnixMilli(p.t).UTC(), Value: p.v})
		})
		if len(pts) == 0 {
			continue
		}
		out = append(out, model.MetricSeries{
			Type: k.typ, Unit: k.typ.Unit(),
			Project: k.ref.Project, Service: k.ref.Service, Instance: k.ref.Instance, Container: k.ref.Container,
			Volume: k.volume, Points: downsample(pts, q.Step),
		})
	}
	s.mu.RUnlock()
	sortSeries(out)
	return out
}

func (q Query) withoutContainer() Query { q.Container = ""; return q }

// downsample averages points into step buckets, each stamped with the
// bucket's start.
func downsample(pts []model.MetricPoint, step time.Duration) []model.MetricPoint {
	if step <= 0 || len(pts) == 0 {
		return pts
	}
	var out []model.MetricPoint
	var sum float64
	var n int
	var bucket time.Time
	for _, p := range pts {
		b := p.Time.Truncate(step)
		if n > 0 && !b.Equal(bucket) {
			out = append(out, model.MetricPoint{Time: bucket, Value: sum / float64(n)})
			sum, n = 0, 0
		}
		bucket = b
		sum += p.Value
		n++
	}
	return append(out, model.MetricPoint{Time: bucket, Value: sum / float64(n)})
}

var typeOrder = func() map[model.MetricType]int {
	m := map[model.MetricType]int{}
	for i, t := range model.MetricTypes {
		m[t] = i
	}
	return m
}()

func sortSeries(out []model.MetricSeries) {
	slices.SortFunc(out, func(a, b model.MetricSeries) int {
		return cmp.Or(
			cmp.Compare(typeOrder[a.Type], typeOrder[b.Type]),
			cmp.Compare(a.Project, b.Project),
			cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Instance, b.Instance),
			cmp.Compare(a.Container, b.Container),
			cmp.Compare(a.Volume, b.Volume),
		)
	})
}
