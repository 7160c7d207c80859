package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
)

// SinkConfig is one configured sink, as the wiring maps it from config.
type SinkConfig struct {
	Spec   Spec
	Filter Filter
	Batch  BatchLimits
	// BufferMaxBytes bounds the on-disk buffer; 0 means
	// DefaultBufferMaxBytes, and NoBuffer keeps nothing back: the buffer
	// then holds one collector batch at a time, so while the destination is
	// down Send waits at once and the log files themselves are the buffer.
	BufferMaxBytes int64
	// Destination, when set, is used instead of the registered factory of
	// Spec.Type (tests hand in their own).
	Destination Destination
}

// BatchLimits bound one delivery: a batch goes out when it holds MaxEvents
// records or MaxBytes of records (as buffered), or when its oldest record has
// waited Timeout.
type BatchLimits struct {
	MaxEvents int
	MaxBytes  int64
	Timeout   time.Duration
}

// Defaults, the same as config's.
const (
	DefaultBufferMaxBytes = 1 << 30
	NoBuffer              = -1
	DefaultFailingAfter   = time.Minute
	DefaultDrainTimeout   = 2 * time.Minute
)

// DefaultBatchLimits are used for limits left at zero.
var DefaultBatchLimits = BatchLimits{MaxEvents: 1000, MaxBytes: 1 << 20, Timeout: time.Second}

// Options are the Router's dependencies.
type Options struct {
	// DataDir is opshub's data directory; sink <name> keeps its buffer and
	// dead-letter file in <DataDir>/sinks/<name>.
	DataDir    string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Emit receives sink.failing and sink.recovered events. It must not
	// block. Nil drops them.
	Emit func(model.Event)
	// Retry is the back-off policy; zero means DefaultRetryPolicy.
	Retry RetryPolicy
	// FailingAfter is how long deliveries must fail before sink.failing is
	// emitted (a full buffer emits it at once); zero means one minute.
	FailingAfter time.Duration
	// DrainTimeout bounds how long a sink that Apply removed keeps
	// delivering what its buffer holds; zero means DefaultDrainTimeout.
	DrainTimeout time.Duration
}

// Router is the sinks' side of the collector hand-off: it filters each
// batch per sink, appends each sink's share to that sink's durable buffer,
// acknowledges the batch once every share is on disk, and delivers from the
// buffers in order, with retries and dead-lettering. Apply changes its sinks
// while it runs; the Router itself, the collector's Output, stays.
type Router struct {
	opts Options
	log  *slog.Logger
	m    *metrics

	// mu guards the set of sinks. Send holds it shared only while it picks
	// the shares; Apply holds it exclusively while it swaps sinks.
	mu       sync.RWMutex
	sinks    []*sink          // configured, in config order
	byName   map[string]*sink // the same
	draining map[string]*sink // removed by Apply, delivering what they hold
	runCtx   context.Context  // Run's context, once the buffers are open
	stopping bool             // Run's context ended: start nothing more
	wg       sync.WaitGroup   // every delivery and drain goroutine

	applyMu sync.Mutex // one Apply at a time

	ready     chan struct{} // closed once Run opened the buffers
	openErr   error
	closeOnce sync.Once
	closeErr  error
}

var _ Output = (*Router)(nil)

// SinkError is a problem with one sink's settings.
type SinkError struct {
	Name string
	Err  error
}

func (e *SinkError) Error() string { return fmt.Sprintf("sink %q: %v", e.Name, e.Err) }
func (e *SinkError) Unwrap() error { return e.Err }

// NewRouter builds the destinations of cfgs and a Router over them. It
// starts nothing and touches no file; Run does.
func NewRouter(cfgs []SinkConfig, opts Options) (*Router, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Emit == nil {
		opts.Emit = func(model.Event) {}
	}
	if opts.Retry.Initial <= 0 {
		opts.Retry = DefaultRetryPolicy
	}
	if opts.FailingAfter <= 0 {
		opts.FailingAfter = DefaultFailingAfter
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Router{
		opts: opts, log: opts.Logger.With("component", "sinks"), m: m,
		byName: map[string]*sink{}, draining: map[string]*sink{}, ready: make(chan struct{}),
	}
	var errs []error
	for _, c := range cfgs {
		name := c.Spec.Name
		if _, dup := r.byName[name]; dup || name == "" {
			errs = append(errs, &SinkError{name, errors.New("names must be unique and not empty")})
			continue
		}
		p, err := r.prepare(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s := newSink(p.cfg, p.dest, p.match, m, opts, r.log.With("sink", name))
		r.sinks = append(r.sinks, s)
		r.byName[name] = s
	}
	if len(errs) > 0 {
		for _, s := range r.sinks {
			_ = s.dest.Close()
		}
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// prepared is a sink's config with its defaults, compiled filter and built
// destination.
type prepared struct {
	cfg   SinkConfig
	match *matcher
	dest  Destination
}

// prepare fills c's defaults, compiles its filter and builds its
// destination; errors are *SinkError.
func (r *Router) prepare(c SinkConfig) (prepared, error) {
	name := c.Spec.Name
	c = r.withDefaults(c)
	if c.Spec.Logger == nil {
		c.Spec.Logger = r.log.With("sink", name, "type", c.Spec.Type)
	}
	match, err := compileFilter(c.Filter)
	if err != nil {
		return prepared{}, &SinkError{name, err}
	}
	dest := c.Destination
	if dest == nil {
		f, err := Lookup(c.Spec.Type)
		if err != nil {
			return prepared{}, &SinkError{name, err}
		}
		if dest, err = f(c.Spec); err != nil {
			return prepared{}, &SinkError{name, err}
		}
	}
	return prepared{cfg: c, match: match, dest: dest}, nil
}

func withBatchDefaults(b BatchLimits) BatchLimits {
	if b.MaxEvents <= 0 {
		b.MaxEvents = DefaultBatchLimits.MaxEvents
	}
	if b.MaxBytes <= 0 {
		b.MaxBytes = DefaultBatchLimits.MaxBytes
	}
	if b.Timeout <= 0 {
		b.Timeout = DefaultBatchLimits.Timeout
	}
	return b
}

// Run opens every sink's buffer, sends each sink's validation line, and
// delivers until ctx ends. It returns after every delivery goroutine ended
// and the buffers and destinations are closed.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	var errs []error
	for _, s := range r.sinks {
		if err := s.open(); err != nil {
			errs = append(errs, &SinkError{s.name, err})
		}
	}
	r.openErr = errors.Join(errs...)
	if r.openErr == nil {
		r.runCtx = ctx
		for _, s := range r.sinks {
			r.startLocked(s)
		}
	}
	close(r.ready)
	r.mu.Unlock()
	if r.openErr != nil {
		_ = r.Close()
		return r.openErr
	}
	r.noteLeftovers()
	<-ctx.Done() // with no sinks there is nothing to wait for but the end
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
	r.wg.Wait()
	return r.Close()
}

// startLocked starts s's delivery goroutine, which sends the validation
// line first. r.mu is held.
func (r *Router) startLocked(s *sink) {
	ctx, cancel := context.WithCancel(r.runCtx)
	done := make(chan struct{})
	s.cancel, s.done = cancel, done
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(done)
		defer cancel()
		s.run(ctx)
	}()
}

// stop ends s's goroutine and waits for it; its records stay in the buffer.
func (s *sink) stop() {
	if s.cancel != nil {
		s.cancel()
		<-s.done
		s.cancel, s.done = nil, nil
	}
	// Nothing delivers the memory lane now.
	s.spill()
}

// Send hands a batch to every sink whose filter takes any of its records.
// It returns once each sink's share is safe (delivered, or durable in its
// buffer), and calls b.Ack just before. A full buffer makes it wait. If ctx ends first, some
// sinks may already hold their share; they deliver it, and the collector
// sends the batch again (at least once). A share meant for a sink that
// Apply removed meanwhile is dropped: the sink no longer wants records.
func (r *Router) Send(ctx context.Context, b Batch) error {
	select {
	case <-r.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if r.openErr != nil {
		return r.openErr
	}
	now := time.Now()
	type share struct {
		s    *sink
		recs []model.LogRecord
	}
	var shares []share
	r.mu.RLock()
	for _, s := range r.sinks {
		if recs := s.take(b.Records); len(recs) > 0 {
			shares = append(shares, share{s, recs})
			s.users.Add(1) // a removed sink waits for this Append before it stops
		}
	}
	r.mu.RUnlock()
	// Each share waits until it is safe (delivered from the memory lane,
	// or on disk; maybe for room first): with several sinks they wait side
	// by side rather than one after another.
	errs := make([]error, len(shares))
	var wg sync.WaitGroup
	for i, sh := range shares {
		put := func() {
			defer sh.s.users.Done()
			if err := sh.s.put(ctx, sh.recs, now); err != nil {
				if errors.Is(err, errBufferClosed) && sh.s.retired.Load() {
					return
				}
				errs[i] = &SinkError{sh.s.name, err}
				return
			}
			sh.s.bufferChanged()
		}
		if i == len(shares)-1 {
			put()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			put()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		for _, err := range errs {
			if err != nil {
				return ctx.Err()
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if b.Ack != nil {
		b.Ack()
	}
	return nil
}

// ErrUnknownSink is returned for a sink name that is not configured.
var ErrUnknownSink = errors.New("no such sink")

func (r *Router) lookup(name string) (*sink, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.byName[name]
	if !ok {
		names := make([]string, 0, len(r.sinks))
		for _, s := range r.sinks {
			names = append(names, s.name)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("%w %q (sinks: %v)", ErrUnknownSink, name, names)
	}
	return s, nil
}

// Pause stops deliveries of the named sink; records keep collecting in its
// buffer, and once it is full Send waits. A pause outlasts restarts.
func (r *Router) Pause(name string) error {
	s, err := r.lookup(name)
	if err != nil {
		return err
	}
	return s.setPaused(true)
}

// Resume lets a paused sink deliver again.
func (r *Router) Resume(name string) error {
	s, err := r.lookup(name)
	if err != nil {
		return err
	}
	return s.setPaused(false)
}

// Sinks returns the state of every sink, in config order, then the sinks a
// reload removed that still deliver what their buffer holds (Removing set).
func (r *Router) Sinks() []model.SinkStatus {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]model.SinkStatus, 0, len(r.sinks)+len(r.draining))
	for _, s := range r.sinks {
		out = append(out, s.status())
	}
	var removed []model.SinkStatus
	for _, s := range r.draining {
		removed = append(removed, s.status())
	}
	slices.SortFunc(removed, func(a, b model.SinkStatus) int { return strings.Compare(a.Name, b.Name) })
	return append(out, removed...)
}

// Held reports why Sends wait on a buffer that cannot be written (its
// filesystem is full): each such sink with its error, and since when the
// first of them fails; "" when none does. The collector shows it as the
// reason it does not read.
func (r *Router) Held() (reason string, since time.Time) {
	r.mu.RLock()
	all := append(slices.Clone(r.sinks), slices.Collect(maps.Values(r.draining))...)
	r.mu.RUnlock()
	var reasons []string
	for _, s := range all {
		s.mu.Lock()
		buf := s.buf
		s.mu.Unlock()
		if buf == nil {
			continue
		}
		at, err := buf.held()
		if err == nil {
			continue
		}
		reasons = append(reasons, fmt.Sprintf("sink %q cannot write its buffer: %v", s.name, err))
		if since.IsZero() || at.Before(since) {
			since = at
		}
	}
	slices.Sort(reasons)
	return strings.Join(reasons, "; "), since
}

// Close closes the buffers and destinations. It is idempotent; Run calls it
// when it ends. Call it yourself only for a Router that never ran.
func (r *Router) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		var errs []error
		for _, s := range r.sinks {
			if err := s.close(); err != nil {
				errs = append(errs, &SinkError{s.name, err})
			}
		}
		for _, s := range r.draining {
			if err := s.close(); err != nil {
				errs = append(errs, &SinkError{s.name, err})
			}
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}
