package sinks_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
	sinkhttp "github.com/opshub/opshub/sinks/http"
)

// statusOf returns the named sink's status, or false when it is not listed.
func statusOf(r *sinks.Router, name string) (model.SinkStatus, bool) {
	for _, st := range r.Sinks() {
		if st.Name == name {
			return st, true
		}
	}
	return model.SinkStatus{}, false
}

func names(r *sinks.Router) []string {
	var out []string
	for _, st := range r.Sinks() {
		out = append(out, st.Name)
	}
	return out
}

// TestApplyReconfiguresSinksWhileRunning: an unchanged sink is not
// restarted; a changed sink restarts with its new destination, sends a
// validation line and delivers the records its buffer held; a removed sink
// delivers what it holds and leaves; a new sink starts. Batches sent all
// along are acknowledged exactly once.
func TestApplyReconfiguresSinksWhileRunning(t *testing.T) {
	keep, oldDest, newDest, drop, added := &fakeDest{}, &fakeDest{fail: down}, &fakeDest{}, &fakeDest{}, &fakeDest{}
	fast := sinks.BatchLimits{Timeout: time.Millisecond}
	cfg := func(name string, d sinks.Destination) sinks.SinkConfig {
		return sinks.SinkConfig{Spec: sinks.Spec{Name: name, Type: "fake"}, Destination: d, Batch: fast}
	}
	run := start(t, []sinks.SinkConfig{cfg("keep", keep), cfg("change", oldDest), cfg("drop", drop)},
		sinks.Options{DataDir: t.TempDir(), Retry: fastRetry})

	var acks atomic.Int64
	send := func(from, to int) bool {
		if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(from, to), Ack: func() { acks.Add(1) }}); err != nil {
			t.Error(err)
			return false
		}
		return true
	}
	send(0, 10)
	sinktest.WaitFor(t, 20*time.Second, "keep and drop to deliver, change to fail", func() bool {
		st, _ := statusOf(run.r, "change")
		return len(keep.logs()) == 10 && len(drop.logs()) == 10 && st.State == model.SinkFailing && st.BufferEvents == 10
	})
	keepBefore, _ := statusOf(run.r, "keep")

	// Batches keep flowing while the sinks change under them.
	stop := make(chan struct{})
	var sending sync.WaitGroup
	var sent atomic.Int64
	sending.Add(1)
	go func() {
		defer sending.Done()
		for i := 10; ; i += 5 {
			select {
			case <-stop:
				sent.Store(int64(i - 10))
				return
			default:
			}
			if !send(i, i+5) {
				return
			}
		}
	}()
	ch, err := run.r.Apply(context.Background(), []sinks.SinkConfig{cfg("new", added), cfg("change", newDest), cfg("keep", keep)})
	if err != nil {
		t.Fatal(err)
	}
	want := sinks.Changes{Added: []string{"new"}, Removed: []string{"drop"}, Changed: []string{"change"}, Unchanged: []string{"keep"}}
	if !reflect.DeepEqual(ch, want) {
		t.Fatalf("Apply = %+v, want %+v", ch, want)
	}
	sinktest.WaitFor(t, 20*time.Second, "the new sink to take records", func() bool { return len(added.logs()) > 0 })
	close(stop)
	sending.Wait()
	total := 10 + int(sent.Load())
	if want := 1 + sent.Load()/5; acks.Load() != want {
		t.Errorf("%d acks for one batch of 10 and %d of 5: each batch must be acknowledged once", acks.Load(), sent.Load()/5)
	}

	sinktest.WaitFor(t, 20*time.Second, "every record at keep, and the changed sink to deliver its backlog", func() bool {
		return len(keep.logs()) == total && len(newDest.logs()) == total
	})
	for i, l := range newDest.logs() {
		if want := sinktest.Numbered(i, i+1)[0].Log; l != want {
			t.Fatalf("changed sink delivered %q at %d, want %q: its buffer must be delivered in order", l, i, want)
		}
	}
	if st, _ := statusOf(run.r, "change"); st.Validation == nil || !st.Validation.OK {
		t.Errorf("the changed sink sent no validation line: %+v", st.Validation)
	}
	if st, _ := statusOf(run.r, "keep"); !reflect.DeepEqual(st.Validation, keepBefore.Validation) {
		t.Errorf("the unchanged sink was restarted: validation %+v, before %+v", st.Validation, keepBefore.Validation)
	}
	if got := added.logs(); len(got) == 0 || len(got) > total-10 {
		t.Errorf("the new sink got %d records, want some of those sent after Apply", len(got))
	}
	sinktest.WaitFor(t, 20*time.Second, "the removed sink to leave the list", func() bool {
		_, listed := statusOf(run.r, "drop")
		return !listed
	})
	if n := len(drop.logs()); n < 10 || n > total {
		t.Errorf("the removed sink delivered %d records", n)
	}
	if got := names(run.r); !reflect.DeepEqual(got, []string{"new", "change", "keep"}) {
		t.Errorf("sinks listed %v, want config order", got)
	}
}

// TestApplyKeepsARemovedSinksBacklog: a removed sink whose destination is
// down gives up after the drain timeout; its records stay on disk and are
// delivered when a sink of that name comes back.
func TestApplyKeepsARemovedSinksBacklog(t *testing.T) {
	dir := t.TempDir()
	dest := &fakeDest{fail: down}
	cfg := sinks.SinkConfig{Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, Batch: sinks.BatchLimits{Timeout: time.Millisecond}}
	var mu sync.Mutex
	var events []model.Event
	emit := func(e model.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	}
	run := start(t, []sinks.SinkConfig{cfg}, sinks.Options{DataDir: dir, Retry: fastRetry, DrainTimeout: 100 * time.Millisecond,
		FailingAfter: time.Millisecond, Emit: emit})
	if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(0, 20)}); err != nil {
		t.Fatal(err)
	}
	sinktest.WaitFor(t, 20*time.Second, "sink.failing", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) == 1 && events[0].Name == model.EventSinkFailing
	})
	if _, err := run.r.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	st, listed := statusOf(run.r, "s")
	if !listed || !st.Removing || st.DrainUntil.IsZero() {
		t.Fatalf("a draining sink is listed as removing: %+v", st)
	}
	sinktest.WaitFor(t, 20*time.Second, "the drain to give up", func() bool { _, listed := statusOf(run.r, "s"); return !listed })
	mu.Lock()
	if len(events) != 2 || events[1].Name != model.EventSinkRecovered || !strings.Contains(events[1].Summary, "removed from the config") {
		t.Errorf("events %+v: the removed sink must resolve its sink.failing", events)
	}
	mu.Unlock()
	// Sends after the removal do not reach it.
	if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(100, 101)}); err != nil {
		t.Fatal(err)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "sinks", "s", "*.seg")); len(segs) == 0 {
		t.Fatal("the removed sink's backlog is gone from disk")
	}

	dest.setFail(nil)
	fresh := &fakeDest{}
	cfg.Destination = fresh
	ch, err := run.r.Apply(context.Background(), []sinks.SinkConfig{cfg})
	if err != nil || !slices.Equal(ch.Added, []string{"s"}) {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	sinktest.WaitFor(t, 20*time.Second, "the backlog", func() bool { return len(fresh.logs()) == 20 })
	if got := fresh.logs(); got[0] != "line 000000" || got[19] != "line 000019" {
		t.Fatalf("delivered %v", got)
	}
}

// TestApplyTakesBackADrainingSink: configured again while it drains, a
// removed sink simply goes on with its buffer.
func TestApplyTakesBackADrainingSink(t *testing.T) {
	dest := &fakeDest{fail: down}
	cfg := sinks.SinkConfig{Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, Batch: sinks.BatchLimits{Timeout: time.Millisecond}}
	run := start(t, []sinks.SinkConfig{cfg}, sinks.Options{DataDir: t.TempDir(), Retry: fastRetry, DrainTimeout: time.Hour})
	if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(0, 5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := run.r.Apply(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if ch, err := run.r.Apply(context.Background(), []sinks.SinkConfig{cfg}); err != nil || !slices.Equal(ch.Added, []string{"s"}) {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	if st, _ := statusOf(run.r, "s"); st.Removing || st.BufferEvents != 5 {
		t.Fatalf("taken back: %+v", st)
	}
	if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(5, 8)}); err != nil {
		t.Fatal(err)
	}
	dest.setFail(nil)
	sinktest.WaitFor(t, 20*time.Second, "every record", func() bool { return len(dest.logs()) == 8 })
}

// TestApplyRefusesBadSinksAndChangesNothing: one bad sink in the new set
// fails the whole Apply, with an error naming it, and the running sinks go
// on as they were.
func TestApplyRefusesBadSinksAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	dest := &fakeDest{}
	cfg := sinks.SinkConfig{Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, Batch: sinks.BatchLimits{Timeout: time.Millisecond}}
	run := start(t, []sinks.SinkConfig{cfg}, sinks.Options{DataDir: dir, Retry: fastRetry})
	sinktest.WaitFor(t, 20*time.Second, "the validation line", func() bool { st, _ := statusOf(run.r, "s"); return st.Validation != nil })
	before, _ := statusOf(run.r, "s")

	_, err := run.r.Apply(context.Background(), []sinks.SinkConfig{
		{Spec: sinks.Spec{Name: "other", Type: "fake"}, Destination: &fakeDest{}},
		{Spec: sinks.Spec{Name: "bad", Type: "fake"}, Destination: &fakeDest{}, Filter: sinks.Filter{Include: "("}},
	})
	var se *sinks.SinkError
	if !errors.As(err, &se) || se.Name != "bad" {
		t.Fatalf("Apply = %v, want a *SinkError for sink bad", err)
	}
	if got := names(run.r); !slices.Equal(got, []string{"s"}) {
		t.Fatalf("sinks after a refused Apply: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "sinks", "other")); err == nil {
		t.Error("a refused Apply created the directory of a new sink")
	}
	if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(0, 3)}); err != nil {
		t.Fatal(err)
	}
	sinktest.WaitFor(t, 20*time.Second, "delivery", func() bool { return len(dest.logs()) == 3 })
	if st, _ := statusOf(run.r, "s"); !reflect.DeepEqual(st.Validation, before.Validation) {
		t.Error("a refused Apply restarted a sink")
	}
}

// TestApplyComparesSettingsByValue: the same destination keys written at
// other lines, or in another style, are no change; another value is.
func TestApplyComparesSettingsByValue(t *testing.T) {
	if _, err := sinks.Lookup("test-apply-raw"); err != nil { // -count=N runs this again
		sinks.Register("test-apply-raw", func(sinks.Spec) (sinks.Destination, error) { return &fakeDest{}, nil })
	}
	cfg := func(raw string, f sinks.Filter) []sinks.SinkConfig {
		settings := plugintest.Decode(t, sinkhttp.Plugin.Settings(), raw)
		return []sinks.SinkConfig{{Spec: sinks.Spec{Name: "s", Type: "test-apply-raw", Settings: settings}, Filter: f}}
	}
	run := start(t, cfg("url: http://a\nheaders: {X: '1'}\n", sinks.Filter{}), sinks.Options{DataDir: t.TempDir(), Retry: fastRetry})
	tests := []struct {
		name    string
		cfgs    []sinks.SinkConfig
		changed bool
	}{
		{"same keys moved and restyled", cfg("\n\n# moved\nurl: \"http://a\"\nheaders:\n  X: \"1\"\n", sinks.Filter{}), false},
		{"another value", cfg("url: http://b\nheaders: {X: '1'}\n", sinks.Filter{}), true},
		{"another filter", cfg("url: http://b\nheaders: {X: '1'}\n", sinks.Filter{Streams: []string{"stderr"}}), true},
	}
	for _, tt := range tests {
		ch, err := run.r.Apply(context.Background(), tt.cfgs)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ch.Changed) == 1; got != tt.changed {
			t.Errorf("%s: changes %+v, want changed=%v", tt.name, ch, tt.changed)
		}
	}
}

// TestStartNamesLeftoverBuffers: at start, the log names the buffer of a
// sink no longer configured that still holds records, and not the buffer
// of one that delivered everything.
func TestStartNamesLeftoverBuffers(t *testing.T) {
	dir := t.TempDir()
	stuck, done := &fakeDest{fail: down}, &fakeDest{}
	fast := sinks.BatchLimits{Timeout: time.Millisecond}
	run := start(t, []sinks.SinkConfig{
		{Spec: sinks.Spec{Name: "stuck", Type: "fake"}, Destination: stuck, Batch: fast},
		{Spec: sinks.Spec{Name: "done", Type: "fake"}, Destination: done, Batch: fast},
	}, sinks.Options{DataDir: dir, Retry: fastRetry})
	if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(0, 10)}); err != nil {
		t.Fatal(err)
	}
	sinktest.WaitFor(t, 20*time.Second, "delivery", func() bool { return len(done.logs()) == 10 })
	run.stop()

	var logs sinktest.LockedBuffer
	start(t, nil, sinks.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	sinktest.WaitFor(t, 20*time.Second, "the start", func() bool { return strings.Contains(logs.String(), "left records") })
	if !strings.Contains(logs.String(), "sink=stuck") || strings.Contains(logs.String(), "sink=done") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// TestApplyGrowsAFullBuffer: while the destination is down and the buffer
// full, a reload with a larger buffer.maxBytes lets the waiting Send in.
func TestApplyGrowsAFullBuffer(t *testing.T) {
	dest := &fakeDest{fail: down}
	cfg := sinks.SinkConfig{Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, BufferMaxBytes: 1024,
		Batch: sinks.BatchLimits{Timeout: time.Millisecond}}
	run := start(t, []sinks.SinkConfig{cfg}, sinks.Options{DataDir: t.TempDir(), Retry: fastRetry})
	sent := make(chan error, 1)
	go func() {
		for i := 0; ; i += 10 {
			if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(i, i+10)}); err != nil || i >= 1000 {
				sent <- err
				return
			}
		}
	}()
	sinktest.WaitFor(t, 20*time.Second, "the buffer to fill", func() bool { st, _ := statusOf(run.r, "s"); return st.BufferBytes > 512 })
	select {
	case err := <-sent:
		t.Fatalf("every Send returned (%v) although the buffer is tiny and the destination down", err)
	default:
	}
	cfg.BufferMaxBytes = 1 << 20
	if ch, err := run.r.Apply(context.Background(), []sinks.SinkConfig{cfg}); err != nil || !slices.Equal(ch.Changed, []string{"s"}) {
		t.Fatalf("Apply = %+v, %v", ch, err)
	}
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the waiting Send did not get into the larger buffer")
	}
	if st, _ := statusOf(run.r, "s"); st.BufferMaxBytes != 1<<20 || st.BufferEvents != 1010 {
		t.Fatalf("status %+v", st)
	}
}
