package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
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
}

// Router is the sinks' side of the collector hand-off: it filters each
// batch per sink, appends each sink's share to that sink's durable buffer,
// acknowledges the batch once every share is on disk, and delivers from the
// buffers in order, with retries and dead-lettering.
type Router struct {
	opts   Options
	log    *slog.Logger
	sinks  []*sink
	byName map[string]*sink

	ready     chan struct{} // closed once Run opened the buffers
	openErr   error
	closeOnce sync.Once
	closeErr  error
}

var _ Output = (*Router)(nil)

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
	log := opts.Logger.With("component", "sinks")
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Router{opts: opts, log: log, byName: map[string]*sink{}, ready: make(chan struct{})}
	var errs []error
	for _, c := range cfgs {
		name := c.Spec.Name
		if _, dup := r.byName[name]; dup || name == "" {
			errs = append(errs, fmt.Errorf("sink %q: names must be unique and not empty", name))
			continue
		}
		if c.Spec.DataDir == "" {
			c.Spec.DataDir = filepath.Join(opts.DataDir, "sinks", name)
		}
		if c.Spec.Logger == nil {
			c.Spec.Logger = log.With("sink", name, "type", c.Spec.Type)
		}
		c.Batch = withBatchDefaults(c.Batch)
		switch {
		case c.BufferMaxBytes == 0:
			c.BufferMaxBytes = DefaultBufferMaxBytes
		case c.BufferMaxBytes < 0:
			c.BufferMaxBytes = NoBuffer
		}
		match, err := compileFilter(c.Filter)
		if err != nil {
			errs = append(errs, fmt.Errorf("sink %q: %w", name, err))
			continue
		}
		dest := c.Destination
		if dest == nil {
			f, err := Lookup(c.Spec.Type)
			if err != nil {
				errs = append(errs, fmt.Errorf("sink %q: %w", name, err))
				continue
			}
			if dest, err = f(c.Spec); err != nil {
				errs = append(errs, fmt.Errorf("sink %q: %w", name, err))
				continue
			}
		}
		s := newSink(c, dest, match, m, opts, c.Spec.Logger)
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
	var errs []error
	for _, s := range r.sinks {
		if err := s.open(); err != nil {
			errs = append(errs, fmt.Errorf("sink %q: %w", s.name, err))
		}
	}
	r.openErr = errors.Join(errs...)
	close(r.ready)
	if r.openErr != nil {
		_ = r.Close()
		return r.openErr
	}
	var wg sync.WaitGroup
	for _, s := range r.sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(ctx)
		}()
	}
	<-ctx.Done() // with no sinks there is nothing to wait for but the end
	wg.Wait()
	return r.Close()
}

// Send hands a batch to every sink whose filter takes any of its records.
// It returns once each sink's share is durable in its buffer, and calls
// b.Ack just before. A full buffer makes it wait. If ctx ends first, some
// sinks may already hold their share; they deliver it, and the collector
// sends the batch again (at least once).
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
	for _, s := range r.sinks {
		if recs := s.take(b.Records); len(recs) > 0 {
			shares = append(shares, share{s, recs})
		}
	}
	// Each share waits for its own fsync (and maybe for room): with several
	// sinks they wait side by side rather than one after another.
	errs := make([]error, len(shares))
	var wg sync.WaitGroup
	for i, sh := range shares {
		put := func() {
			if err := sh.s.buf.Append(ctx, sh.recs, now); err != nil {
				errs[i] = fmt.Errorf("sink %q: %w", sh.s.name, err)
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

// Sinks returns the state of every sink, in config order.
func (r *Router) Sinks() []model.SinkStatus {
	out := make([]model.SinkStatus, 0, len(r.sinks))
	for _, s := range r.sinks {
		out = append(out, s.status())
	}
	return out
}

// Close closes the buffers and destinations. It is idempotent; Run calls it
// when it ends. Call it yourself only for a Router that never ran.
func (r *Router) Close() error {
	r.closeOnce.Do(func() {
		var errs []error
		for _, s := range r.sinks {
			if err := s.close(); err != nil {
				errs = append(errs, fmt.Errorf("sink %q: %w", s.name, err))
			}
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}
