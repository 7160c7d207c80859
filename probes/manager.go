package probes

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/opshub/opshub/internal/clock"
	"github.com/opshub/opshub/model"
)

// Options configure a Manager.
type Options struct {
	// Clock is the time source of probe schedules: periods, first-run
	// jitter and initial delays; default: real time. A probe's own timeout
	// is real time whatever the clock: it bounds real network calls and
	// processes.
	Clock clock.Clock
	// Logger receives probe verdicts (a probe failing, recovering);
	// default: discarded.
	Logger *slog.Logger
	// Metrics receives the per-container probe series; nil: none kept.
	Metrics *Metrics
	// Jitter returns a number in [0, 1) that scales the first-run delay;
	// default: math/rand/v2.
	Jitter func() float64
}

// Manager creates the probers of containers and holds what they share:
// the clock, the metric set, and its own start time, which decides
// first-run jitter as the kubelet's probe manager does.
type Manager struct {
	clock   clock.Clock
	start   time.Time
	log     *slog.Logger
	metrics *Metrics
	jitter  func() float64
	// newHandler builds a probe's check; tests replace it.
	newHandler func(t Type, s *Spec) Handler
}

// NewManager returns a Manager whose life starts now: workers created
// within one period of now wait a random part of their period before their
// first run, so that the probes of many containers started together (a
// restart of opshub) do not all fire at once.
func NewManager(opts Options) *Manager {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Jitter == nil {
		opts.Jitter = rand.Float64
	}
	m := &Manager{
		clock:   opts.Clock,
		start:   opts.Clock.Now(),
		log:     opts.Logger.With("component", "probes"),
		metrics: opts.Metrics,
		jitter:  opts.Jitter,
	}
	m.newHandler = m.handlerFor
	return m
}

// handlerFor builds the check of a normalized spec.
func (m *Manager) handlerFor(_ Type, s *Spec) Handler {
	switch {
	case s.HTTP != nil:
		return newHTTPHandler(*s.HTTP)
	case s.TCP != nil:
		return &tcpHandler{action: *s.TCP}
	case s.Exec != nil:
		return &execHandler{action: *s.Exec}
	default:
		return &grpcHandler{action: *s.GRPC}
	}
}

// Change is a probe verdict for the owner of a Container to act on.
type Change struct {
	Type Type
	// Result is the probe's new effective result.
	Result Result
	// Run is the container run (see Run.ID) the verdict is about; a
	// verdict about a run that has ended since must be ignored.
	Run int64
	// Probed is false when the result is the initial value a new run
	// starts with, true when runs of the probe decided it.
	Probed bool
	// Recovered is set on the first verdict of success after a failure
	// verdict, even when the effective result did not change because a new
	// run started with success (liveness) in between.
	Recovered bool
	// Outcome is the run that decided a probed verdict.
	Outcome Outcome
	// Status is the probe's status after the change, without history.
	Status model.ProbeStatus
}

// Message is the kubelet's event message for a failure verdict: "Liveness
// probe failed: HTTP probe failed with statuscode: 500".
func (c Change) Message() string { return UnhealthyMessage(c.Type, c.Outcome) }

// ContainerConfig describes one container to probe.
type ContainerConfig struct {
	// Ref names the container in metrics and logs.
	Ref model.Ref
	// Probes are the container's probes; New normalizes a copy.
	Probes Set
	// OnChange receives every verdict, from the probe's worker goroutine,
	// in order per probe. It may call Status, never Run.
	OnChange func(Change)
}

// NewContainer prepares the probes of one container; Run runs them.
func (m *Manager) NewContainer(cfg ContainerConfig) (*Container, error) {
	set := cfg.Probes.Clone()
	if err := set.Normalize(); err != nil {
		return nil, fmt.Errorf("probes of %s: %w", cfg.Ref, err)
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func(Change) {}
	}
	c := &Container{m: m, ref: cfg.Ref, onChange: cfg.OnChange, set: set, runID: -1}
	now := m.clock.Now()
	for _, t := range Types {
		spec := set.Get(t)
		if spec == nil {
			continue
		}
		h := m.newHandler(t, spec)
		w := &worker{
			c:       c,
			typ:     t,
			spec:    spec,
			handler: h,
			initial: initialResult(t),
			trigger: make(chan struct{}, 1),
			seenRun: -1,
		}
		w.tracker = NewTracker(t, h.Describe(), w.initial, now)
		w.series = seriesKey{cfg.Ref, t}
		c.workers = append(c.workers, w)
	}
	return c, nil
}

// initialResult is a probe's result before it has run on a container: the
// kubelet's readiness starts failed, liveness passing, startup unknown.
func initialResult(t Type) Result {
	switch t {
	case Readiness:
		return Failure
	case Liveness:
		return Success
	}
	return Unknown
}
