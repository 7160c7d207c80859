package sinks

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opshub/opshub/model"
)

// ValidationLabel marks the validation line a sink sends when it starts.
const ValidationLabel = "opshub.dev/validation"

// validationTimeout bounds the validation line's one attempt.
const validationTimeout = 10 * time.Second

// pausedFile, in the sink's directory, marks a paused sink across restarts.
const pausedFile = "paused"

// sink is one configured sink: its filter, buffer and the goroutine that
// delivers from the buffer.
type sink struct {
	name, typ string
	dir       string
	cfg       SinkConfig
	dest      Destination
	match     *matcher
	m         *metrics
	opts      Options
	log       *slog.Logger

	buf  *buffer
	dead *deadLetter
	// batch is the slice handed to the destination, reused by the one
	// goroutine that delivers.
	batch []model.LogRecord

	// The Router's bookkeeping: the goroutine delivering for the sink
	// (cancel and done, changed under the Router's mu), the Sends
	// appending to it right now, and whether a reload removed it for good.
	cancel    context.CancelFunc
	done      chan struct{}
	users     sync.WaitGroup
	retired   atomic.Bool
	closeOnce sync.Once
	closeErr  error

	mu           sync.Mutex
	paused       bool
	wake         chan struct{} // closed and replaced when paused changes
	failing      bool
	failingSince time.Time
	alerted      bool // sink.failing was emitted for this episode
	lastError    string
	lastDelivery time.Time
	validation   *model.SinkValidation
	sent         int64
	retried      int64
	deadLettered int64
	removing     bool      // a reload removed the sink; it drains its buffer
	drainUntil   time.Time // when it gives up draining
}

func newSink(c SinkConfig, dest Destination, match *matcher, m *metrics, opts Options, log *slog.Logger) *sink {
	return &sink{
		name: c.Spec.Name, typ: c.Spec.Type, dir: c.Spec.DataDir,
		cfg: c, dest: dest, match: match, m: m, opts: opts, log: log,
		dead: newDeadLetter(c.Spec.DataDir, c.Spec.Name),
		wake: make(chan struct{}),
	}
}

func (s *sink) open() error {
	// Without a buffer, an Append waits until the last batch is delivered.
	buf, err := openBuffer(s.dir, max(s.cfg.BufferMaxBytes, 1), s.log)
	if err != nil {
		return err
	}
	buf.blocked = s.onBlocked
	_, err = os.Stat(filepath.Join(s.dir, pausedFile))
	s.mu.Lock()
	s.buf = buf
	s.paused = s.paused || err == nil
	s.mu.Unlock()
	s.bufferChanged()
	s.m.start(s.name)
	s.m.bufferMax.WithLabelValues(s.name).Set(float64(max(s.cfg.BufferMaxBytes, 0)))
	return nil
}

// close closes the buffer and the destination; it is idempotent.
func (s *sink) close() error {
	s.closeOnce.Do(func() {
		var errs []error
		s.mu.Lock()
		buf := s.buf
		s.mu.Unlock()
		if buf != nil {
			errs = append(errs, buf.Close())
		}
		errs = append(errs, s.dest.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// spillGrace is how much longer than its batch timeout a share may wait in
// the memory lane for its delivery before it is spilled to disk: the
// destination falls behind, and the collector should not wait on it.
const spillGrace = 5 * time.Second

// put hands recs to the buffer and returns once they are safe: delivered
// from the memory lane, or on disk. A paused or removed sink puts them on
// disk at once; a share that waits too long is spilled.
func (s *sink) put(ctx context.Context, recs []model.LogRecord, now time.Time) error {
	s.mu.Lock()
	memory := !s.paused && !s.removing
	after := s.cfg.Batch.Timeout + spillGrace
	s.mu.Unlock()
	if !memory {
		return s.buf.Append(ctx, recs, now)
	}
	sh, err := s.buf.Offer(ctx, recs, now)
	if err != nil || sh == nil {
		return err
	}
	timer := time.NewTimer(after)
	defer timer.Stop()
	for {
		select {
		case <-sh.done:
			return sh.err
		case <-ctx.Done():
			// The share may still be delivered; the collector reads it
			// again anyway (at least once).
			return ctx.Err()
		case <-timer.C:
			s.spill()
			timer.Reset(after)
		}
	}
}

// spill writes the memory lane to disk (see buffer), where its records are
// safe while the destination falls behind.
func (s *sink) spill() {
	s.mu.Lock()
	buf := s.buf
	s.mu.Unlock()
	if buf == nil {
		return
	}
	if err := buf.Spill(); err != nil && !errors.Is(err, errBufferClosed) {
		s.log.Error("cannot write the sink buffer; records wait in memory for their delivery", "error", err)
	}
}

// take returns the records of recs the sink's filter selects.
func (s *sink) take(recs []model.LogRecord) []model.LogRecord {
	if s.match.all {
		return recs
	}
	var out []model.LogRecord
	for i := range recs {
		if s.match.match(&recs[i]) {
			out = append(out, recs[i])
		}
	}
	return out
}

func (s *sink) bufferChanged() {
	bytes, events, _ := s.buf.Stats()
	s.m.bufferBytes.WithLabelValues(s.name).Set(float64(bytes))
	s.m.bufferEvents.WithLabelValues(s.name).Set(float64(events))
}

// onBlocked runs when an Append starts waiting for room: the collector is
// being held back. While the destination fails, users must hear about it at
// once; a healthy destination catching up on a backlog is not news.
func (s *sink) onBlocked() {
	s.m.blocked.WithLabelValues(s.name).Inc()
	s.mu.Lock()
	if s.failing {
		s.log.Warn("sink buffer is full; holding the collector back", "max_bytes", s.cfg.BufferMaxBytes, "last_error", s.lastError)
	}
	if s.alerted || !s.failing {
		s.mu.Unlock()
		return
	}
	s.alerted = true
	reason := "buffer full"
	if s.lastError != "" {
		reason = "buffer full; last error: " + s.lastError
	}
	s.mu.Unlock()
	s.emit(model.EventSinkFailing, reason)
}

func (s *sink) emit(name, reason string) {
	s.mu.Lock()
	typ := s.typ
	s.mu.Unlock()
	ev := model.Event{
		ID:       "evt_" + rand.Text(),
		Name:     name,
		Status:   model.StatusFiring,
		Severity: model.SeverityCritical,
		Time:     time.Now().UTC(),
		Summary:  fmt.Sprintf("sink %s (%s) is failing: %s", s.name, typ, reason),
		Data:     map[string]any{"sink": s.name, "type": typ, "reason": reason},
	}
	if name == model.EventSinkRecovered {
		ev.Status, ev.Severity = model.StatusResolved, model.SeverityInfo
		ev.Summary = fmt.Sprintf("sink %s (%s) delivers again", s.name, typ)
		if reason != "" {
			ev.Summary = fmt.Sprintf("sink %s (%s) is no longer failing: %s", s.name, typ, reason)
		}
	}
	if s.buf != nil {
		bytes, events, _ := s.buf.Stats()
		ev.Data["bufferBytes"], ev.Data["bufferEvents"] = bytes, events
	}
	s.opts.Emit(ev)
}

func (s *sink) setPaused(p bool) error {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("sink %q: %w", s.name, err)
	}
	marker := filepath.Join(s.dir, pausedFile)
	var err error
	if p {
		err = os.WriteFile(marker, []byte("paused through the API\n"), 0o644)
	} else if err = os.Remove(marker); errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("sink %q: %w", s.name, err)
	}
	s.mu.Lock()
	if s.paused != p {
		s.paused = p
		close(s.wake)
		s.wake = make(chan struct{})
		s.log.Info("sink paused or resumed", "paused", p)
	}
	s.mu.Unlock()
	if p {
		s.spill()
	}
	return nil
}

// waitUnpaused returns when the sink is not paused, or ctx ended.
func (s *sink) waitUnpaused(ctx context.Context) error {
	for {
		s.mu.Lock()
		paused, wake := s.paused, s.wake
		s.mu.Unlock()
		if !paused {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *sink) status() model.SinkStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := model.SinkStatus{
		Name: s.name, Type: s.typ, State: model.SinkRunning,
		LastError: s.lastError, LastDelivery: s.lastDelivery,
		BufferMaxBytes: max(s.cfg.BufferMaxBytes, 0),
		Sent:           s.sent, Retried: s.retried, DeadLettered: s.deadLettered,
		Removing: s.removing, DrainUntil: s.drainUntil,
	}
	switch {
	case s.paused:
		st.State = model.SinkPaused
	case s.failing:
		st.State = model.SinkFailing
	}
	if s.buf != nil {
		st.BufferBytes, st.BufferEvents, _ = s.buf.Stats() // lock order: sink, then buffer
		if since, err := s.buf.held(); err != nil {
			st.BufferError, st.BufferErrorSince = err.Error(), since.UTC()
		}
	}
	if s.validation != nil {
		v := *s.validation
		st.Validation = &v
	}
	return st
}

// run sends the validation line, then delivers batches from the buffer
// until ctx ends.
func (s *sink) run(ctx context.Context) {
	if s.waitUnpaused(ctx) != nil {
		return
	}
	s.validate(ctx)
	for {
		if s.waitUnpaused(ctx) != nil {
			return
		}
		if !s.waitForBatch(ctx) {
			return
		}
		recs, next, err := s.buf.Peek(s.cfg.Batch.MaxEvents, s.cfg.Batch.MaxBytes)
		if err != nil {
			s.log.Error("cannot read the sink buffer", "error", err)
			if !sleep(ctx, s.opts.Retry.Max) {
				return
			}
			continue
		}
		if len(recs) > 0 && !s.deliver(ctx, recs) {
			return
		}
		if err := s.buf.Commit(next, len(recs)); err != nil {
			s.log.Error("cannot save the sink buffer position", "error", err)
		}
		s.bufferChanged()
	}
}

// validationRecord is the line a sink sends when it starts.
func (s *sink) validationRecord(now time.Time) model.LogRecord {
	return model.LogRecord{
		Time:   now,
		Ref:    model.Ref{Project: "opshub", Service: "opshub", Container: "sinks"},
		Stream: "stdout",
		Log:    fmt.Sprintf("opshub sink %q (type %s) started: this line checks that delivery works", s.name, s.typ),
		Labels: model.Labels{ValidationLabel: "true"},
	}
}

// validate sends the validation line once, outside the buffer, and records
// the outcome; a failure marks the sink failing until a delivery succeeds.
func (s *sink) validate(ctx context.Context) {
	vctx, cancel := context.WithTimeout(ctx, validationTimeout)
	defer cancel()
	now := time.Now()
	err := s.dest.Deliver(vctx, []model.LogRecord{s.validationRecord(now)})
	if ctx.Err() != nil {
		return
	}
	v := &model.SinkValidation{Time: now.UTC(), OK: err == nil}
	s.mu.Lock()
	s.validation = v
	s.mu.Unlock()
	if err != nil {
		v.Error = err.Error()
		s.log.Warn("sink validation line was not accepted", "error", err)
		s.noteFailure(err, time.Now())
		return
	}
	s.log.Info("sink validation line delivered")
}

// waitForBatch waits until the buffer holds a full batch, or its oldest
// record has waited the batch timeout, or the sink was paused. It reports
// false when ctx ended.
func (s *sink) waitForBatch(ctx context.Context) bool {
	for {
		changed := s.buf.Changed()
		s.mu.Lock()
		paused, wake := s.paused, s.wake
		s.mu.Unlock()
		if paused {
			return true
		}
		bytes, events, oldest := s.buf.Stats()
		var timer *time.Timer
		var expired <-chan time.Time
		if events > 0 {
			wait := s.cfg.Batch.Timeout - time.Since(oldest)
			if events >= int64(s.cfg.Batch.MaxEvents) || bytes >= s.cfg.Batch.MaxBytes || wait <= 0 {
				return true
			}
			timer = time.NewTimer(wait)
			expired = timer.C
		}
		ended := false
		select {
		case <-changed:
		case <-wake:
		case <-expired:
		case <-ctx.Done():
			ended = true
		}
		if timer != nil {
			timer.Stop()
		}
		if ended {
			return false
		}
	}
}

// deliver hands recs to the destination until each is accepted or
// dead-lettered. It reports false when ctx ended first; the records then
// stay in the buffer.
func (s *sink) deliver(ctx context.Context, recs []bufferedRecord) bool {
	pending := recs
	for attempt := 1; ; attempt++ {
		if s.waitUnpaused(ctx) != nil {
			return false
		}
		batch := slices.Grow(s.batch[:0], len(pending))[:len(pending)]
		var size int
		for i, r := range pending {
			batch[i] = r.rec
			size += r.size
		}
		s.batch = batch
		if attempt > 1 {
			s.count(resultRetried, pending)
		}
		err := s.dest.Deliver(ctx, batch)
		clear(batch) // let the records' text go
		if err == nil {
			// Accepted, even if ctx ended meanwhile (a stop, a reload):
			// the caller commits, so the batch is not sent twice.
			s.delivered(pending, time.Now())
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		now := time.Now()
		var retryAfter time.Duration
		var partial *PartialError
		var retryable *RetryableError
		switch {
		case errors.As(err, &partial):
			var retry, refused []bufferedRecord
			var reasons []string
			inRetry := map[int]bool{}
			for _, i := range partial.Retry {
				if i >= 0 && i < len(pending) {
					inRetry[i] = true
					retry = append(retry, pending[i])
				}
			}
			var ok []bufferedRecord
			for i, r := range pending {
				if reason, bad := partial.Rejected[i]; bad && !inRetry[i] {
					refused = append(refused, r)
					reasons = append(reasons, reason)
				} else if !inRetry[i] {
					ok = append(ok, r)
				}
			}
			s.delivered(ok, now)
			if !s.deadLetter(ctx, refused, reasons) {
				return false
			}
			if len(retry) == 0 {
				return true
			}
			s.count(resultFailed, retry)
			pending, retryAfter = retry, partial.RetryAfter
		case errors.As(err, &retryable):
			s.count(resultFailed, pending)
			retryAfter = retryable.RetryAfter
		default:
			s.count(resultFailed, pending)
			reasons := make([]string, len(pending))
			for i := range reasons {
				reasons[i] = err.Error()
			}
			s.log.Warn("destination refused a batch for good; it goes to the dead-letter file", "events", len(pending), "error", err)
			s.mu.Lock()
			s.lastError = err.Error()
			s.mu.Unlock()
			return s.deadLetter(ctx, pending, reasons)
		}
		s.noteFailure(err, now)
		// Records waiting in memory go to disk, so that their Sends (and the
		// collector) need not wait for the destination.
		s.spill()
		wait := s.opts.Retry.Wait(attempt, retryAfter, nil)
		s.log.Warn("delivery failed; retrying", "events", len(pending), "bytes", size, "attempt", attempt, "wait", wait.String(), "error", err)
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// deadLetter writes refused records to the dead-letter file; while it
// cannot, it keeps trying, as the records must not be lost.
func (s *sink) deadLetter(ctx context.Context, recs []bufferedRecord, reasons []string) bool {
	if len(recs) == 0 {
		return true
	}
	for attempt := 1; ; attempt++ {
		err := s.dead.write(recs, reasons, time.Now())
		if err == nil {
			break
		}
		s.log.Error("cannot write the dead-letter file", "error", err)
		if !sleep(ctx, s.opts.Retry.Wait(attempt, 0, nil)) {
			return false
		}
	}
	s.count(resultDeadLettered, recs)
	s.mu.Lock()
	s.deadLettered += int64(len(recs))
	s.mu.Unlock()
	return true
}

func (s *sink) count(result string, recs []bufferedRecord) {
	var size int
	for _, r := range recs {
		size += r.size
	}
	s.m.events.WithLabelValues(s.name, result).Add(float64(len(recs)))
	s.m.bytes.WithLabelValues(s.name, result).Add(float64(size))
	if result == resultRetried {
		s.mu.Lock()
		s.retried += int64(len(recs))
		s.mu.Unlock()
	}
}

// delivered records a success: counters, latency, and the end of a failing
// episode.
func (s *sink) delivered(recs []bufferedRecord, now time.Time) {
	if len(recs) == 0 {
		return
	}
	s.count(resultSent, recs)
	s.m.latency.WithLabelValues(s.name).Observe(now.Sub(recs[0].buffered).Seconds())
	s.mu.Lock()
	s.sent += int64(len(recs))
	s.lastDelivery = now.UTC()
	s.lastError = ""
	wasAlerted := s.alerted
	if s.failing {
		s.log.Info("sink delivers again", "failing_for", now.Sub(s.failingSince).Round(time.Second).String())
	}
	s.failing, s.failingSince, s.alerted = false, time.Time{}, false
	s.mu.Unlock()
	if wasAlerted {
		s.emit(model.EventSinkRecovered, "")
	}
}

// noteFailure marks the sink failing, and emits sink.failing once the
// failures have lasted FailingAfter.
func (s *sink) noteFailure(err error, now time.Time) {
	s.mu.Lock()
	s.lastError = err.Error()
	if !s.failing {
		s.failing, s.failingSince = true, now
	}
	alert := !s.alerted && now.Sub(s.failingSince) >= s.opts.FailingAfter
	if alert {
		s.alerted = true
	}
	s.mu.Unlock()
	if alert {
		s.emit(model.EventSinkFailing, err.Error())
	}
}

// sleep waits d, or until ctx ends (then it reports false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
