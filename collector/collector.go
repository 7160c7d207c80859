package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// Defaults for Options.
const (
	DefaultMaxLineBytes   = 256 << 10
	DefaultRescanInterval = 10 * time.Second
	DefaultPollInterval   = 250 * time.Millisecond
	DefaultMaxBatchLines  = 8192
	DefaultMaxBatchBytes  = 768 << 10
	// DefaultMaxInflightBytes holds two full batches (a batch may pass
	// MaxBatchBytes by one line), 2 MiB: with one batch being delivered and
	// the next ready, the sinks never wait, and the records' memory (about
	// twice their text) stays small enough for the collector to run in
	// 64 MiB. Measured with bench/collector -e2e (docs/benchmarks.md):
	// 1 MiB batches in 4 MiB used the same CPU for about 10 MiB more
	// resident memory; in 2 MiB, where two batches just over 1 MiB did not
	// fit, they moved the lines a third slower.
	DefaultMaxInflightBytes = 2 * (DefaultMaxBatchBytes + DefaultMaxLineBytes)

	// readBufferBytes is one block read. Idle files give their buffer back.
	readBufferBytes = 128 << 10
	// rotatedGrace is how long a rotated or deleted file is kept open after
	// it last grew: the kubelet's runtime may write a little after the
	// rename, until it reopens.
	rotatedGrace = time.Second
	// partialTimeout is how long a partial line at the end of a file waits
	// for its final record before it is passed on as it is (a stream that
	// ended without a newline).
	partialTimeout = 2 * time.Second
	// recordBytes estimates the memory of one record besides its text.
	recordBytes = 160
)

// Options configure a Collector.
type Options struct {
	// Roots are the directories in the kubelet's layout to tail.
	Roots []string
	// StateDir holds the checkpoint file; it is created if missing.
	StateDir string
	// MaxLineBytes caps one logical line; longer ones are cut and marked.
	MaxLineBytes int
	// Output receives the batches. Required.
	Output sinks.Output
	// OutputHeld, when set, says why Sends to Output wait, "" when they do
	// not for a reason worth showing (sinks.Router.Held: a sink whose
	// buffer cannot be written); Status and opshub_collector_held show it.
	OutputHeld func() (reason string, since time.Time)
	Resolver   Resolver
	Logger     *slog.Logger
	// Registerer receives the self-metrics; may be nil.
	Registerer prometheus.Registerer
	Now        func() time.Time
	// RescanInterval is the safety-net listing of the roots besides
	// inotify; PollInterval checks open files for growth.
	RescanInterval time.Duration
	PollInterval   time.Duration
	// Workers read files in parallel; default 2.
	Workers int
	// MaxBatchLines and MaxBatchBytes bound one batch; a file has at most
	// one batch in flight, so a restart repeats at most that much of it.
	MaxBatchLines int
	MaxBatchBytes int
	// MaxInflightBytes bounds the memory of records handed to the sinks and
	// not yet acknowledged; when it is used up, tailing waits.
	MaxInflightBytes int64
}

// Collector tails the log files under its roots into an Output.
type Collector struct {
	opts    Options
	log     *slog.Logger
	metrics *collectorMetrics
	store   checkpointStore
	budget  *byteBudget
	bufs    sync.Pool

	scanMu sync.Mutex // serializes scans

	mu      sync.Mutex
	state   checkpointState
	ckpts   []*checkpoint
	nextID  uint64 // of the next checkpoint entry
	tails   map[fileID]*tail
	byPath  map[string]*tail          // open tails by their name now (the newest, if two share it)
	byDir   map[string]map[*tail]bool // open tails per container directory
	opened  uint64                    // tails opened so far
	skipped map[fileID]fileMark       // files seen and not worth opening (done, old .gz)
	warned  map[string]time.Time      // files that could not be opened, when that was logged
	// pendingDirs are container directories where the last scan left a
	// file undecided (listed while it changed, or a copy being written).
	pendingDirs map[string]bool
	queue       []*tail
	dirty       bool
	acks        []ack
	// acksSince is when the oldest of acks arrived.
	acksSince time.Time
	// ckptErr is why the checkpoints could not be written, since
	// ckptErrSince; nil once a write succeeds. Meanwhile the checkpointer
	// holds the acknowledged files back and tries again every ckptRetry.
	ckptErr      error
	ckptErrSince time.Time

	work      chan struct{} // a tail was queued
	ackSignal chan struct{} // an ack or a finished file waits for the checkpointer
	rescan    chan struct{}

	// sending counts the goroutines handing a batch to the output.
	sending sync.WaitGroup

	closeOnce sync.Once
	closed    chan struct{}
}

type ack struct {
	t     *tail
	off   int64
	bytes int64
	// full is set for a batch that filled up: its file likely has more to
	// read and waits for this checkpoint, so it is written at once.
	full bool
}

// checkpointDelay is how long the checkpointer may hold acknowledgements of
// batches that did not fill up, to write them with others: less than
// minBatchInterval, which such a file waits before its next batch anyway.
const checkpointDelay = 100 * time.Millisecond

// New checks opts and builds a Collector. It touches no file.
func New(opts Options) (*Collector, error) {
	if opts.Output == nil {
		return nil, errors.New("collector: no output")
	}
	if opts.StateDir == "" {
		return nil, errors.New("collector: no state directory")
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = DefaultMaxLineBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RescanInterval <= 0 {
		opts.RescanInterval = DefaultRescanInterval
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.MaxBatchLines <= 0 {
		opts.MaxBatchLines = DefaultMaxBatchLines
	}
	if opts.MaxBatchBytes <= 0 {
		opts.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if opts.MaxInflightBytes <= 0 {
		opts.MaxInflightBytes = DefaultMaxInflightBytes
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Collector{
		opts:      opts,
		log:       opts.Logger.With("component", "collector"),
		metrics:   m,
		store:     checkpointStore{dir: opts.StateDir},
		budget:    newByteBudget(opts.MaxInflightBytes),
		tails:     map[fileID]*tail{},
		byPath:    map[string]*tail{},
		byDir:     map[string]map[*tail]bool{},
		skipped:   map[fileID]fileMark{},
		warned:    map[string]time.Time{},
		work:      make(chan struct{}, 1),
		ackSignal: make(chan struct{}, 1),
		rescan:    make(chan struct{}, 1),
		closed:    make(chan struct{}),
	}
	c.bufs.New = func() any { b := make([]byte, readBufferBytes); return &b }
	if err := c.registerHeld(opts.Registerer); err != nil {
		return nil, err
	}
	return c, nil
}

// registerHeld adds opshub_collector_held: 1 while the collector does not
// read because its checkpoints (reason "checkpoints") or a sink's buffer
// (reason "sinks") cannot be written.
func (c *Collector) registerHeld(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	gauge := func(reason string, held func() bool) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "opshub_collector_held",
			Help:        "1 while the collector does not read because its checkpoints or a sink's buffer cannot be written (a full filesystem); it resumes by itself.",
			ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 {
			if held() {
				return 1
			}
			return 0
		})
	}
	for _, g := range []prometheus.Collector{
		gauge("checkpoints", func() bool { c.mu.Lock(); defer c.mu.Unlock(); return c.ckptErr != nil }),
		gauge("sinks", func() bool { reason, _ := c.outputHeld(); return reason != "" }),
	} {
		if err := reg.Register(g); err != nil {
			return fmt.Errorf("collector: register metrics: %w", err)
		}
	}
	return nil
}

// Close stops a running Run. It is idempotent.
func (c *Collector) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}

// Run tails until ctx ends or Close is called, then closes every file and
// writes the checkpoints. Lines handed to the sinks and not yet acknowledged
// are read again by the next run.
func (c *Collector) Run(ctx context.Context) error {
	if err := os.MkdirAll(c.opts.StateDir, 0o755); err != nil {
		return fmt.Errorf("collector: create state directory: %w", err)
	}
	st, err := c.store.load(c.opts.Now())
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	c.mu.Lock()
	c.state = st
	c.nextID = 1
	for i := range st.Files {
		ck := st.Files[i]
		c.ckpts = append(c.ckpts, &ck)
		c.nextID = max(c.nextID, ck.ID+1)
	}
	c.state.Files = nil
	c.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-c.closed:
			cancel()
		case <-ctx.Done():
		}
	}()

	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	c.scan(ctx)
	run(c.checkpointer)
	for range c.opts.Workers {
		run(c.worker)
	}
	run(c.discover)
	run(c.poll)
	wg.Wait()
	c.sending.Wait() // their Sends end with ctx

	c.mu.Lock()
	// Acknowledgements the checkpointer was gathering count too.
	for _, a := range c.acks {
		a.t.ck.Offset = a.off
	}
	c.acks = nil
	for _, t := range c.tails {
		t.close(c)
	}
	c.mu.Unlock()
	err = c.save()
	c.store.close()
	if err != nil {
		return fmt.Errorf("collector: %w", err)
	}
	return nil
}

// newCheckpoint adds a checkpoint entry. Called with c.mu held.
func (c *Collector) newCheckpoint(ck checkpoint) *checkpoint {
	ck.ID = c.nextID
	c.nextID++
	c.ckpts = append(c.ckpts, &ck)
	return &ck
}

// poll queues every open file now and then, for growth inotify missed and
// for the timers of rotated files and unfinished partial lines.
func (c *Collector) poll(ctx context.Context) {
	tick := time.NewTicker(c.opts.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		c.mu.Lock()
		for _, t := range c.tails {
			c.scheduleLocked(t)
		}
		c.mu.Unlock()
	}
}

// schedule queues t for a worker unless it is queued, busy (then it runs
// again after) or waiting for an acknowledgement.
func (c *Collector) schedule(t *tail) {
	c.mu.Lock()
	c.scheduleLocked(t)
	c.mu.Unlock()
}

func (c *Collector) scheduleLocked(t *tail) {
	switch {
	case t.closed || t.inflight:
	case t.busy:
		t.again = true
	case !t.queued:
		t.queued = true
		c.queue = append(c.queue, t)
		select {
		case c.work <- struct{}{}:
		default:
		}
	}
}

func (c *Collector) worker(ctx context.Context) {
	w := &workerState{}
	for {
		c.mu.Lock()
		var t *tail
		if len(c.queue) > 0 {
			t = c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			t.queued = false
			t.busy = true
		}
		more := len(c.queue) > 0
		c.mu.Unlock()
		if more {
			select {
			case c.work <- struct{}{}:
			default:
			}
		}
		if t == nil {
			select {
			case <-ctx.Done():
				return
			case <-c.work:
			}
			continue
		}
		c.readTail(ctx, w, t)
		c.mu.Lock()
		t.busy = false
		if t.again {
			t.again = false
			c.scheduleLocked(t)
		}
		c.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
	}
}

// checkpointer records acknowledgements: it writes the checkpoints for
// every group of them, and only then lets their files read on, so that a
// crash repeats at most the one batch per file that was in flight. A group
// is written at once when a file with more to read waits for it, and
// otherwise gathers acknowledgements for up to checkpointDelay: with many
// slow files, that turns one write per batch into a few per second. A
// checkpoint may lag the acknowledgements, never lead them.
//
// While the checkpoints cannot be written (their filesystem is full), the
// acknowledged files stay held: the collector stops reading them, so that a
// restart repeats no more than it would have, and tries again every
// ckptRetry; reading resumes with the first write that succeeds.
func (c *Collector) checkpointer(ctx context.Context) {
	var timer *time.Timer
	var timerC <-chan time.Time
	retry := time.NewTimer(ckptRetry)
	retry.Stop()
	retrying := false
	defer func() {
		if timer != nil {
			timer.Stop()
		}
		retry.Stop()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.ackSignal:
			if retrying {
				continue // the retry comes with the timer
			}
		case <-timerC:
			timerC = nil
		case <-retry.C:
			retrying = false
		}
		c.mu.Lock()
		if !c.dirty && len(c.acks) == 0 {
			c.mu.Unlock()
			continue
		}
		urgent := c.dirty
		for _, a := range c.acks {
			urgent = urgent || a.full
		}
		if wait := checkpointDelay - time.Since(c.acksSince); !urgent && wait > 0 {
			c.mu.Unlock()
			if timerC == nil {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				timerC = timer.C
			}
			continue
		}
		acks := c.acks
		c.acks = nil
		now := c.opts.Now()
		for _, a := range acks {
			a.t.ck.Offset = a.off
			a.t.ck.Seen = now
		}
		dirty := c.dirty || len(acks) > 0
		c.dirty = false
		c.mu.Unlock()
		if timerC != nil {
			timer.Stop()
			timerC = nil
		}
		if c.log.Enabled(ctx, slog.LevelDebug) {
			for _, a := range acks {
				c.log.Debug("acknowledged", "checkpoint", a.t.ck.ID, "offset", a.off, "full", a.full)
			}
		}
		if dirty {
			if err := c.save(); err != nil {
				c.holdForCheckpoints(acks, err)
				retrying = true
				retry.Reset(ckptRetry)
				continue
			}
			c.checkpointsWritten()
		}
		var released int64
		c.mu.Lock()
		for _, a := range acks {
			a.t.inflight = false
			released += a.bytes
			c.scheduleLocked(a.t)
		}
		c.mu.Unlock()
		c.budget.release(released)
		c.metrics.inflight.Sub(float64(released))
	}
}

// ckptRetry is how often the checkpointer tries again to write checkpoints
// that could not be written.
const ckptRetry = time.Second

// holdForCheckpoints puts acks back for the next try after a failed write
// of the checkpoints: their files stay held (they read nothing more) and
// their bytes stay in the in-flight budget, so the collector stops reading.
func (c *Collector) holdForCheckpoints(acks []ack, err error) {
	c.mu.Lock()
	c.acks = append(acks, c.acks...)
	c.dirty = true
	first := c.ckptErr == nil
	if first {
		c.ckptErrSince = c.opts.Now()
	}
	c.ckptErr = err
	c.mu.Unlock()
	if first {
		c.log.Error("cannot write checkpoints; the collector stops reading until it can, and tries again every second", "dir", c.opts.StateDir, "err", err)
	}
}

// checkpointsWritten ends a time of failed checkpoint writes.
func (c *Collector) checkpointsWritten() {
	c.mu.Lock()
	was, since := c.ckptErr, c.ckptErrSince
	c.ckptErr, c.ckptErrSince = nil, time.Time{}
	c.mu.Unlock()
	if was != nil {
		c.log.Info("checkpoints can be written again; reading resumes", "dir", c.opts.StateDir, "held_for", c.opts.Now().Sub(since).Round(time.Second).String())
	}
}

// Status says whether the collector reads, and if not, why: its
// checkpoints cannot be written, or its output cannot take records.
func (c *Collector) Status() model.CollectorStatus {
	st := model.CollectorStatus{State: model.CollectorReading}
	var reasons []string
	c.mu.Lock()
	if c.ckptErr != nil {
		reasons = append(reasons, fmt.Sprintf("cannot write checkpoints in %s: %v", c.opts.StateDir, c.ckptErr))
		st.Since = c.ckptErrSince
	}
	c.mu.Unlock()
	if reason, since := c.outputHeld(); reason != "" {
		reasons = append(reasons, reason)
		if st.Since.IsZero() || since.Before(st.Since) {
			st.Since = since
		}
	}
	if len(reasons) > 0 {
		st.State, st.Reason, st.Since = model.CollectorHeld, strings.Join(reasons, "; "), st.Since.UTC()
	}
	return st
}

func (c *Collector) outputHeld() (string, time.Time) {
	if c.opts.OutputHeld != nil {
		return c.opts.OutputHeld()
	}
	return "", time.Time{}
}

// save writes the checkpoints of open files and the retained ones.
func (c *Collector) save() error {
	c.mu.Lock()
	st := c.state
	st.Files = make([]checkpoint, 0, len(c.ckpts))
	for _, ck := range c.ckpts {
		st.Files = append(st.Files, *ck)
	}
	c.mu.Unlock()
	err := c.store.save(st)
	if err != nil {
		c.metrics.ckptErrors.Inc()
		return err
	}
	c.metrics.ckptWrites.Inc()
	c.metrics.ckptLastSave.Set(float64(c.opts.Now().UnixNano()) / 1e9)
	return nil
}

func (c *Collector) ackLater(a ack) {
	c.mu.Lock()
	if len(c.acks) == 0 {
		c.acksSince = time.Now()
	}
	c.acks = append(c.acks, a)
	c.mu.Unlock()
	select {
	case c.ackSignal <- struct{}{}:
	default:
	}
}

func (c *Collector) markDirty() {
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
	select {
	case c.ackSignal <- struct{}{}:
	default:
	}
}

// byteBudget bounds bytes in flight. One holder may always take more than
// the whole budget alone, so a batch larger than the budget still moves.
type byteBudget struct {
	mu   sync.Mutex
	max  int64
	used int64
	wake chan struct{}
}

func newByteBudget(max int64) *byteBudget {
	return &byteBudget{max: max, wake: make(chan struct{})}
}

func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}
