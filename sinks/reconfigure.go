package sinks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/model"
)

// Changes says what Apply did to each sink, by name.
type Changes struct {
	// Added sinks started and sent their validation line.
	Added []string
	// Removed sinks take no more records; each delivers what its buffer
	// holds for at most Options.DrainTimeout, then stops.
	Removed []string
	// Changed sinks were restarted with their new settings and sent their
	// validation line; their buffer was kept and is delivered with the new
	// settings.
	Changed []string
	// Unchanged sinks were not touched.
	Unchanged []string
}

// ErrStopping is returned by Apply once Run's context has ended.
var ErrStopping = errors.New("the sinks are stopping")

// Apply makes cfgs the Router's sinks while it runs, sink by sink:
//
//   - a sink whose settings are the same as before is not touched: no
//     restart, no validation line, its buffer and goroutine as they were;
//   - a new sink opens its buffer (in <DataDir>/sinks/<name>, picking up
//     what a sink of that name left there) and sends its validation line;
//   - a changed sink stops delivering, takes its new destination, filter,
//     batch and buffer bounds, and starts again with a validation line; the
//     records in its buffer were acknowledged to the collector and are
//     delivered with the new settings;
//   - a removed sink takes no new records and keeps delivering what its
//     buffer holds until it is empty or Options.DrainTimeout passed; what
//     is left then stays on disk and is delivered if a sink of that name is
//     configured again. A paused sink stops at once and keeps its buffer.
//
// Apply first builds every new destination; if any fails, it returns the
// errors (each a *SinkError) and changes nothing. It waits for Run to have
// opened the buffers. Send keeps working throughout: the Router stays the
// collector's Output, and every batch is acknowledged once.
func (r *Router) Apply(ctx context.Context, cfgs []SinkConfig) (Changes, error) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	select {
	case <-r.ready:
	case <-ctx.Done():
		return Changes{}, ctx.Err()
	}
	if r.openErr != nil {
		return Changes{}, r.openErr
	}
	r.mu.RLock()
	stopping := r.stopping
	r.mu.RUnlock()
	if stopping {
		return Changes{}, ErrStopping
	}

	// Only Apply changes the set, and applyMu is held: reading it needs no
	// lock here.
	var (
		ch      Changes
		errs    []error
		seen    = map[string]bool{}
		next    = make([]SinkConfig, 0, len(cfgs))
		built   = map[string]prepared{}
		fresh   = map[string]*sink{} // added sinks, opened
		revived = map[string]*sink{} // removed earlier, still draining, configured again
	)
	for _, c := range cfgs {
		name := c.Spec.Name
		if seen[name] || name == "" {
			errs = append(errs, &SinkError{name, errors.New("names must be unique and not empty")})
			continue
		}
		seen[name] = true
		next = append(next, c)
		if old, ok := r.byName[name]; ok && old.sameConfig(r.withDefaults(c)) {
			ch.Unchanged = append(ch.Unchanged, name)
			continue
		}
		p, err := r.prepare(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		built[name] = p
	}
	discard := func() {
		for _, p := range built {
			_ = p.dest.Close()
		}
		for _, s := range fresh {
			_ = s.buf.Close()
		}
	}
	if len(errs) > 0 {
		discard()
		return Changes{}, errors.Join(errs...)
	}
	// Open the buffers of new sinks before anything stops, so that a
	// directory that cannot be opened changes nothing either. A sink that is
	// still draining under this name is taken back instead.
	for name, p := range built {
		if _, ok := r.byName[name]; ok {
			continue
		}
		r.mu.Lock()
		d, ok := r.draining[name]
		if ok {
			delete(r.draining, name)
		}
		r.mu.Unlock()
		if ok {
			d.stop() // its drain goroutine sees it was taken back and closes nothing
			revived[name] = d
			continue
		}
		s := newSink(p.cfg, p.dest, p.match, r.m, r.opts, r.log.With("sink", name))
		if err := s.open(); err != nil {
			errs = append(errs, &SinkError{name, err})
			continue
		}
		fresh[name] = s
	}
	if len(errs) > 0 {
		// Sinks taken back from draining drain on.
		r.mu.Lock()
		for name, d := range revived {
			r.draining[name] = d
			r.drainLocked(d)
		}
		r.mu.Unlock()
		discard()
		return Changes{}, errors.Join(errs...)
	}

	// Stop the goroutines of changed and removed sinks; Send goes on
	// appending to their buffers meanwhile.
	var removed []*sink
	for _, s := range r.sinks {
		if !seen[s.name] {
			removed = append(removed, s)
			s.stop()
		} else if _, changed := built[s.name]; changed {
			s.stop()
		}
	}

	r.mu.Lock()
	if r.stopping {
		// Close closes what is in the Router's maps: hand the sinks taken
		// back from draining to it again.
		for name, d := range revived {
			r.draining[name] = d
		}
		r.mu.Unlock()
		discard()
		return Changes{}, ErrStopping
	}
	var oldDests []Destination
	list := make([]*sink, 0, len(next))
	byName := make(map[string]*sink, len(next))
	for _, c := range next {
		name := c.Spec.Name
		s, existed := r.byName[name]
		p, rebuilt := built[name]
		switch {
		case existed && !rebuilt:
			// unchanged
		case existed:
			oldDests = append(oldDests, s.reconfigure(p))
			ch.Changed = append(ch.Changed, name)
			r.startLocked(s)
		case revived[name] != nil:
			s = revived[name]
			oldDests = append(oldDests, s.reconfigure(p))
			ch.Added = append(ch.Added, name)
			r.startLocked(s)
		default:
			s = fresh[name]
			ch.Added = append(ch.Added, name)
			r.startLocked(s)
		}
		list = append(list, s)
		byName[name] = s
	}
	for _, s := range removed {
		ch.Removed = append(ch.Removed, s.name)
		r.draining[s.name] = s
		r.drainLocked(s)
	}
	r.sinks, r.byName = list, byName
	r.mu.Unlock()

	for _, d := range oldDests {
		_ = d.Close()
	}
	for _, l := range [][]string{ch.Added, ch.Removed, ch.Changed, ch.Unchanged} {
		slices.Sort(l)
	}
	r.log.Info("sinks reconfigured", "added", ch.Added, "removed", ch.Removed, "changed", ch.Changed, "unchanged", len(ch.Unchanged))
	return ch, nil
}

// withDefaults fills c's defaults (data directory, batch limits, buffer
// size) without building anything: prepare starts with it, and a new config
// goes through it for comparison with a running sink's config.
func (r *Router) withDefaults(c SinkConfig) SinkConfig {
	if c.Spec.DataDir == "" {
		c.Spec.DataDir = filepath.Join(r.opts.DataDir, "sinks", c.Spec.Name)
	}
	c.Batch = withBatchDefaults(c.Batch)
	switch {
	case c.BufferMaxBytes == 0:
		c.BufferMaxBytes = DefaultBufferMaxBytes
	case c.BufferMaxBytes < 0:
		c.BufferMaxBytes = NoBuffer
	}
	return c
}

// sameConfig reports whether c (with its defaults) is what s runs with.
// The destination's own keys are compared by value, not by where they
// stood in the file; a destination handed in by a test is compared by
// identity.
func (s *sink) sameConfig(c SinkConfig) bool {
	s.mu.Lock()
	cur := s.cfg
	s.mu.Unlock()
	return cur.Spec.Type == c.Spec.Type &&
		cur.Spec.Encoding == c.Spec.Encoding &&
		cur.Spec.DataDir == c.Spec.DataDir &&
		reflect.DeepEqual(cur.Filter, c.Filter) &&
		cur.Batch == c.Batch &&
		cur.BufferMaxBytes == c.BufferMaxBytes &&
		cur.Destination == c.Destination &&
		reflect.DeepEqual(cur.Spec.Settings, c.Spec.Settings)
}

// reconfigure gives a stopped sink its new settings and destination, and
// returns the old destination for the caller to close. The Router's mu is
// held, so no Send is picking shares.
func (s *sink) reconfigure(p prepared) Destination {
	s.mu.Lock()
	old := s.dest
	s.cfg, s.typ, s.dest, s.match = p.cfg, p.cfg.Spec.Type, p.dest, p.match
	s.validation = nil
	s.removing, s.drainUntil = false, time.Time{}
	s.mu.Unlock()
	s.buf.setMaxBytes(max(p.cfg.BufferMaxBytes, 1))
	return old
}

// drainLocked starts a removed sink's drain goroutine. r.mu is held.
func (r *Router) drainLocked(s *sink) {
	until := time.Now().Add(r.opts.DrainTimeout)
	ctx, cancel := context.WithDeadline(r.runCtx, until)
	done := make(chan struct{})
	s.cancel, s.done = cancel, done
	s.mu.Lock()
	s.removing, s.drainUntil = true, until
	s.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(done)
		defer cancel()
		emptied := s.drain(ctx)
		r.finishDrain(s, emptied)
	}()
}

// drain delivers what the buffer holds, without waiting for full batches,
// until it is empty (true) or ctx ends (false). A paused sink does not
// drain.
func (s *sink) drain(ctx context.Context) bool {
	s.mu.Lock()
	paused := s.paused
	s.mu.Unlock()
	if paused {
		return false
	}
	for {
		if bytes, _, _ := s.buf.Stats(); bytes == 0 {
			// Sends that picked this sink before it was removed may still
			// be appending; they find room in an empty buffer at once.
			s.users.Wait()
			if bytes, _, _ := s.buf.Stats(); bytes == 0 {
				return true
			}
		}
		if ctx.Err() != nil {
			return false
		}
		recs, next, err := s.buf.Peek(s.cfg.Batch.MaxEvents, s.cfg.Batch.MaxBytes)
		if err != nil {
			s.log.Error("cannot read the sink buffer", "error", err)
			if !sleep(ctx, s.opts.Retry.Max) {
				return false
			}
			continue
		}
		if len(recs) > 0 && !s.deliver(ctx, recs) {
			return false
		}
		if err := s.buf.Commit(next, len(recs)); err != nil {
			s.log.Error("cannot save the sink buffer position", "error", err)
		}
		s.bufferChanged()
	}
}

// finishDrain closes a removed sink once its drain ended, unless Apply took
// it back meanwhile.
func (r *Router) finishDrain(s *sink, emptied bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.draining[s.name] != s {
		return // configured again: Apply owns it now
	}
	delete(r.draining, s.name)
	s.retired.Store(true)
	s.mu.Lock()
	alerted := s.alerted
	s.alerted = false
	s.mu.Unlock()
	if alerted {
		// Resolve the sink.failing it raised: the sink is gone.
		s.emit(model.EventSinkRecovered, "it was removed from the config")
	}
	err := s.close()
	s.users.Wait() // Appends woken by the close return at once
	bytes, events, _ := s.buf.Stats()
	switch {
	case err != nil:
		s.log.Error("removed sink stopped with an error", "error", err)
	case emptied || events == 0:
		s.log.Info("removed sink delivered its buffer and stopped")
	default:
		s.log.Warn("removed sink stopped before its buffer was delivered; the records stay on disk and are delivered if a sink of this name is configured again",
			"buffer_events", events, "buffer_bytes", bytes, "dir", s.dir)
	}
	r.m.forget(s.name)
}

// noteLeftovers logs the buffers under <DataDir>/sinks of sinks that are
// not configured and still hold undelivered records: they are delivered
// only if a sink of that name is configured again.
func (r *Router) noteLeftovers() {
	root := filepath.Join(r.opts.DataDir, "sinks")
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range entries {
		if !e.IsDir() || r.byName[e.Name()] != nil {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if n := undelivered(dir); n > 0 {
			r.log.Warn("a sink that is no longer configured left records in its buffer; configure a sink of this name to deliver them, or delete the directory",
				"sink", e.Name(), "dir", dir, "undelivered_bytes", n)
		}
	}
}

// undelivered is how many bytes of a buffer directory lie past its
// delivered position, without opening the buffer.
func undelivered(dir string) int64 {
	segs, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	var end int64
	for _, seg := range segs {
		start, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(seg), segSuffix), 10, 64)
		st, serr := os.Stat(seg)
		if err != nil || serr != nil {
			continue
		}
		end = max(end, start+st.Size())
	}
	var pos int64
	if text, err := os.ReadFile(filepath.Join(dir, positionFile)); err == nil {
		pos, _ = strconv.ParseInt(strings.TrimSpace(string(text)), 10, 64)
	}
	return max(end-pos, 0)
}

// forget drops the series of a sink that is gone.
func (m *metrics) forget(name string) {
	l := prometheus.Labels{"sink": name}
	m.events.DeletePartialMatch(l)
	m.bytes.DeletePartialMatch(l)
	m.bufferBytes.DeletePartialMatch(l)
	m.bufferEvents.DeletePartialMatch(l)
	m.latency.DeletePartialMatch(l)
	m.blocked.DeletePartialMatch(l)
}

// setMaxBytes changes the buffer's bound; Appends waiting for room look
// again.
func (b *buffer) setMaxBytes(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.maxBytes == n {
		return
	}
	b.maxBytes = n
	b.segSize = segmentSize(n)
	b.notifyLocked()
}

// String names the changes for logs and messages.
func (c Changes) String() string {
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"added", c.Added}, {"removed", c.Removed}, {"changed", c.Changed}} {
		if len(p.names) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s", p.what, strings.Join(p.names, ", ")))
		}
	}
	if len(parts) == 0 {
		return "no sink changed"
	}
	return strings.Join(parts, "; ")
}

// Validations waits until each named sink has sent its validation line, is
// paused, or is gone, or until ctx ends, and returns the results it has.
func (r *Router) Validations(ctx context.Context, names []string) map[string]model.SinkValidation {
	out := map[string]model.SinkValidation{}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := 0
		for _, name := range names {
			if _, ok := out[name]; ok {
				continue
			}
			st, listed := r.status(name)
			switch {
			case listed && st.Validation != nil:
				out[name] = *st.Validation
			case listed && st.State != model.SinkPaused:
				pending++
			}
		}
		if pending == 0 {
			return out
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return out
		}
	}
}

// status returns the named configured sink's status.
func (r *Router) status(name string) (model.SinkStatus, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.byName[name]
	if !ok {
		return model.SinkStatus{}, false
	}
	return s.status(), true
}
