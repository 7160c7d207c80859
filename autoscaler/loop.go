package autoscaler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
)

// Source tells the loop what a service looks like now.
type Source interface {
	// Observe returns the service's current (desired) replica count and its
	// instances with their latest usage.
	Observe(ctx context.Context, svc model.Ref, now time.Time) (current int, pods []Pod, err error)
}

// Scaler applies a new replica count. platform.Platform satisfies it.
type Scaler interface {
	Scale(ctx context.Context, project, name string, replicas int) error
}

// HPAChecker tells whether something else, a Kubernetes
// HorizontalPodAutoscaler, already scales a service, and its name. The
// Kubernetes platform satisfies it; a platform without HPAs need not.
type HPAChecker interface {
	HPAFor(ctx context.Context, project, service string) (name string, ok bool, err error)
}

// StateStore keeps each policy's State across restarts, so stabilization
// windows and rate limits survive them.
type StateStore interface {
	LoadState(svc model.Ref) (State, bool, error)
	SaveState(svc model.Ref, st State) error
}

// LoopOptions configure a Loop.
type LoopOptions struct {
	// Policies by service.
	Policies map[model.Ref]Policy
	Source   Source
	Scaler   Scaler
	// HPAs finds HorizontalPodAutoscalers that target a service; a service
	// that has one is refused (LimitHPA). Nil uses Scaler when it is an
	// HPAChecker, and checks nothing otherwise.
	HPAs HPAChecker
	// States persists State; nil keeps it in memory only.
	States StateStore
	// Publish receives autoscaling.scaled and autoscaling.limited events;
	// nil drops them.
	Publish func(model.Event)
	// Interval between passes; default 15 s, the HPA's sync period.
	Interval time.Duration
	// Algorithm options; zero means DefaultOptions.
	Algorithm Options
	Logger    *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// History is how many decisions are kept per service for the API;
	// default 20.
	History int
}

// ServiceDecisions is the recent decisions of one service, newest first.
type ServiceDecisions struct {
	Service   model.Ref  `json:"service"`
	Policy    Policy     `json:"-"`
	Decisions []Decision `json:"decisions"`
}

// ServiceDecision is one decision with the service it is about and the
// bounds of its policy: an entry of GET /api/v1/autoscaling.
type ServiceDecision struct {
	Project string `json:"project"`
	Service string `json:"service"`
	Decision
	MinReplicas int `json:"minReplicas"`
	MaxReplicas int `json:"maxReplicas"`
}

// Loop decides for every policy each interval and scales through Scaler.
type Loop struct {
	opts LoopOptions
	log  *slog.Logger

	mu        sync.Mutex
	states    map[model.Ref]*State
	decisions map[model.Ref][]Decision
	limited   map[model.Ref]Limit            // last limit announced, so events are sent on change only
	counts    map[model.Ref]map[Limit]uint64 // decisions by limit, for /metrics
}

// NewLoop validates every policy and returns a loop; it starts nothing.
func NewLoop(opts LoopOptions) (*Loop, error) {
	if opts.Source == nil || opts.Scaler == nil {
		return nil, errors.New("autoscaler: a source and a scaler are required")
	}
	var errs []error
	for ref, p := range opts.Policies {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("autoscaling policy for %s: %w", ref, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.Algorithm == (Options{}) {
		opts.Algorithm = DefaultOptions()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.History <= 0 {
		opts.History = 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HPAs == nil {
		opts.HPAs, _ = opts.Scaler.(HPAChecker)
	}
	return &Loop{
		opts:      opts,
		log:       opts.Logger.With("component", "autoscaler"),
		states:    map[model.Ref]*State{},
		decisions: map[model.Ref][]Decision{},
		limited:   map[model.Ref]Limit{},
	}, nil
}

// Run makes a pass every interval until ctx ends.
func (l *Loop) Run(ctx context.Context) error {
	if len(l.opts.Policies) == 0 {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(l.opts.Interval)
	defer t.Stop()
	for {
		l.Pass(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Pass decides once for every policy, in a stable order.
func (l *Loop) Pass(ctx context.Context) {
	refs := make([]model.Ref, 0, len(l.opts.Policies))
	for ref := range l.opts.Policies {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(a, b model.Ref) int {
		if a.Project != b.Project {
			return cmp.Compare(a.Project, b.Project)
		}
		return cmp.Compare(a.Service, b.Service)
	})
	for _, ref := range refs {
		if ctx.Err() != nil {
			return
		}
		l.decide(ctx, ref, l.opts.Policies[ref])
	}
}

func (l *Loop) decide(ctx context.Context, ref model.Ref, p Policy) {
	now := l.opts.Now()
	log := l.log.With("project", ref.Project, "service", ref.Service)
	if refused, ok := l.hpaRefusal(ctx, ref, now, log); ok {
		l.announceLimit(ref, refused)
		l.record(ref, refused)
		return
	}
	current, pods, err := l.opts.Source.Observe(ctx, ref, now)
	if err != nil {
		log.Warn("cannot observe service", "err", err)
		l.record(ref, Decision{Time: now, Limit: LimitInvalidMetric, Reason: "cannot observe the service: " + err.Error()})
		return
	}
	st := l.state(ref)
	d := Decide(l.opts.Algorithm, p, st, now, current, pods)
	scaled := false
	if d.Scaled() {
		if err := l.opts.Scaler.Scale(ctx, ref.Project, ref.Service, d.Desired); err != nil {
			log.Warn("scale failed", "from", d.Current, "to", d.Desired, "err", err)
			d.Reason = fmt.Sprintf("wanted %d but scaling failed: %v", d.Desired, err)
			d.Desired = d.Current
		} else {
			st.RecordScale(p.Behavior, now, d.Current, d.Desired)
			scaled = true
		}
	}
	// The decision is in the history as soon as the scale is: whoever sees
	// the new replica count can read why.
	l.record(ref, d)
	if scaled {
		log.Info("scaled", "from", d.Current, "to", d.Desired, "limit", string(d.Limit), "reason", d.Reason)
		l.publish(ref, model.EventAutoscalingScaled, model.SeverityInfo, now,
			fmt.Sprintf("%s scaled from %d to %d: %s", ref.Service, d.Current, d.Desired, d.Reason), d)
	}
	if l.opts.States != nil {
		if err := l.opts.States.SaveState(ref, *st); err != nil {
			log.Warn("cannot save autoscaler state", "err", err)
		}
	}
	l.announceLimit(ref, d)
}

// hpaRefusal returns the decision that refuses a service a
// HorizontalPodAutoscaler already scales, or false when none does. A
// failed check refuses this pass too: scaling blind could fight an HPA.
func (l *Loop) hpaRefusal(ctx context.Context, ref model.Ref, now time.Time, log *slog.Logger) (Decision, bool) {
	if l.opts.HPAs == nil {
		return Decision{}, false
	}
	name, ok, err := l.opts.HPAs.HPAFor(ctx, ref.Project, ref.Service)
	switch {
	case err != nil:
		log.Warn("cannot check for a HorizontalPodAutoscaler", "err", err)
		return Decision{Time: now, Limit: LimitInvalidMetric,
			Reason: "cannot tell whether a HorizontalPodAutoscaler scales the service: " + err.Error()}, true
	case ok:
		return Decision{Time: now, Limit: LimitHPA, Reason: fmt.Sprintf(
			"the HorizontalPodAutoscaler %q already scales %s; opshub does not scale it while that exists (delete the HPA or this autoscaling policy)",
			name, ref)}, true
	}
	return Decision{}, false
}

// announceLimit sends autoscaling.limited when a service becomes held back
// by something the user can change (max replicas, a missing request, an
// invalid metric), and resolves it when that ends. Passes in between send
// nothing.
func (l *Loop) announceLimit(ref model.Ref, d Decision) {
	blocking := d.Limit == LimitMax || d.Limit == LimitMissingRequest || d.Limit == LimitInvalidMetric || d.Limit == LimitHPA
	l.mu.Lock()
	prev := l.limited[ref]
	if blocking {
		l.limited[ref] = d.Limit
	} else {
		delete(l.limited, ref)
	}
	l.mu.Unlock()
	switch {
	case blocking && prev != d.Limit:
		l.publish(ref, model.EventAutoscalingLimited, model.SeverityWarning, d.Time,
			fmt.Sprintf("%s cannot scale as its metrics ask (%s): %s", ref.Service, d.Limit, d.Reason), d)
	case !blocking && prev != "":
		ev := l.event(ref, model.EventAutoscalingLimited, model.SeverityWarning, d.Time,
			fmt.Sprintf("%s is no longer limited by %s", ref.Service, prev), d)
		ev.Status = model.StatusResolved
		if l.opts.Publish != nil {
			l.opts.Publish(ev)
		}
	}
}

func (l *Loop) publish(ref model.Ref, name string, sev model.Severity, now time.Time, summary string, d Decision) {
	if l.opts.Publish != nil {
		l.opts.Publish(l.event(ref, name, sev, now, summary, d))
	}
}

func (l *Loop) event(ref model.Ref, name string, sev model.Severity, now time.Time, summary string, d Decision) model.Event {
	return model.Event{
		Name:     name,
		Status:   model.StatusFiring,
		Severity: sev,
		Time:     now,
		Project:  ref.Project,
		Service:  ref.Service,
		Summary:  summary,
		Data: map[string]any{
			"current": d.Current, "desired": d.Desired, "recommended": d.Recommended,
			"limit": string(d.Limit), "reason": d.Reason, "metrics": d.Metrics,
		},
	}
}

// state returns the service's state, loading it from the store once.
func (l *Loop) state(ref model.Ref) *State {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.states[ref]; ok {
		return st
	}
	st := &State{}
	if l.opts.States != nil {
		loaded, ok, err := l.opts.States.LoadState(ref)
		if err != nil {
			l.log.Warn("cannot load autoscaler state; starting with empty windows", "project", ref.Project, "service", ref.Service, "err", err)
		} else if ok {
			*st = loaded
		}
	}
	l.states[ref] = st
	return st
}

func (l *Loop) record(ref model.Ref, d Decision) {
	l.mu.Lock()
	defer l.mu.Unlock()
	hist := append([]Decision{d}, l.decisions[ref]...)
	if len(hist) > l.opts.History {
		hist = hist[:l.opts.History]
	}
	l.decisions[ref] = hist
	l.count(ref, d)
}

// Decisions returns the recent decisions of every policy's service, sorted
// by project and service, newest decision first.
func (l *Loop) Decisions() []ServiceDecisions {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ServiceDecisions, 0, len(l.opts.Policies))
	for ref, p := range l.opts.Policies {
		out = append(out, ServiceDecisions{Service: ref, Policy: p, Decisions: slices.Clone(l.decisions[ref])})
	}
	slices.SortFunc(out, func(a, b ServiceDecisions) int {
		if a.Service.Project != b.Service.Project {
			return cmp.Compare(a.Service.Project, b.Service.Project)
		}
		return cmp.Compare(a.Service.Service, b.Service.Service)
	})
	return out
}
