package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
)

// ForwarderOptions configure a Forwarder.
type ForwarderOptions struct {
	// QueueBatches bounds the batches waiting to be sent; default 40 (ten
	// minutes of 15 s scrapes).
	QueueBatches int
	// MaxAttempts per batch; default 5.
	MaxAttempts int
	// MinBackoff is the first wait between attempts, doubled up to
	// MaxBackoff; defaults 1s and 30s.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	Registerer             prometheus.Registerer
}

// Forwarder sends samples to a Writer in the background.
type Forwarder struct {
	w    *Writer
	opts ForwarderOptions
	log  *slog.Logger

	mu     sync.Mutex
	queue  [][]model.Sample
	wake   chan struct{}
	closed chan struct{}
	once   sync.Once

	sent, dropped *prometheus.CounterVec
}

// NewForwarder builds a Forwarder and registers its metrics (forwarders of
// several sinks share them); it starts nothing.
func NewForwarder(w *Writer, opts ForwarderOptions) (*Forwarder, error) {
	if opts.QueueBatches <= 0 {
		opts.QueueBatches = 40
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{
		w: w, opts: opts,
		log:    opts.Logger.With("component", "metrics", "sink", w.name),
		wake:   make(chan struct{}, 1),
		closed: make(chan struct{}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_remotewrite_samples_sent_total",
			Help: "Container metric samples accepted by a remote write endpoint.",
		}, []string{"sink"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_remotewrite_samples_dropped_total",
			Help: "Container metric samples not delivered to a remote write endpoint, by reason (queue_full, rejected, retries_exhausted).",
		}, []string{"sink", "reason"}),
	}
	if opts.Registerer != nil {
		var err error
		if f.sent, err = register(opts.Registerer, f.sent); err != nil {
			return nil, fmt.Errorf("remote write %q: register metrics: %w", w.name, err)
		}
		if f.dropped, err = register(opts.Registerer, f.dropped); err != nil {
			return nil, fmt.Errorf("remote write %q: register metrics: %w", w.name, err)
		}
	}
	return f, nil
}

// register registers c, or returns the collector already registered under
// its name.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return c, err
}

// Send queues samples without blocking. When the queue is full the oldest
// batch is dropped and counted.
func (f *Forwarder) Send(samples []model.Sample) {
	if len(samples) == 0 {
		return
	}
	f.mu.Lock()
	if len(f.queue) >= f.opts.QueueBatches {
		f.dropped.WithLabelValues(f.w.name, "queue_full").Add(float64(len(f.queue[0])))
		f.queue = f.queue[1:]
	}
	f.queue = append(f.queue, samples)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run sends queued batches until ctx ends or Close.
func (f *Forwarder) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		select {
		case <-f.closed:
			cancel()
		case <-ctx.Done():
		}
	})
	for {
		f.mu.Lock()
		var batch []model.Sample
		if len(f.queue) > 0 {
			batch = f.queue[0]
			f.queue = f.queue[1:]
		}
		f.mu.Unlock()
		if batch == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-f.wake:
				continue
			}
		}
		f.deliver(ctx, batch)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// deliver sends one batch, retrying retryable failures with exponential
// back-off and jitter, at least as long as the server asked.
func (f *Forwarder) deliver(ctx context.Context, batch []model.Sample) {
	backoff := outbound.Backoff{Initial: f.opts.MinBackoff, Max: f.opts.MaxBackoff}
	for attempt := 1; ; attempt++ {
		err := f.w.Write(ctx, batch)
		if err == nil {
			f.sent.WithLabelValues(f.w.name).Add(float64(len(batch)))
			return
		}
		retryAfter, ok := outbound.RetryAfterOf(err)
		if !ok {
			f.log.Warn("remote write rejected a batch", "samples", len(batch), "err", err)
			f.dropped.WithLabelValues(f.w.name, "rejected").Add(float64(len(batch)))
			return
		}
		if attempt >= f.opts.MaxAttempts || ctx.Err() != nil {
			f.log.Warn("remote write failed; batch dropped", "samples", len(batch), "attempts", attempt, "err", err)
			f.dropped.WithLabelValues(f.w.name, "retries_exhausted").Add(float64(len(batch)))
			return
		}
		t := time.NewTimer(backoff.Wait(attempt, retryAfter, 0.5+rand.Float64()/2))
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// Close stops Run; it is idempotent.
func (f *Forwarder) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}
