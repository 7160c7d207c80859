package sinks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
	sinkhttp "github.com/opshub/opshub/sinks/http"
)

// fakeDest records what it was given and fails while told to.
type fakeDest struct {
	mu   sync.Mutex
	got  []model.LogRecord
	fail func(recs []model.LogRecord) error
}

func (d *fakeDest) Deliver(_ context.Context, recs []model.LogRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fail != nil {
		if err := d.fail(recs); err != nil {
			return err
		}
	}
	for _, r := range recs {
		if r.Labels[sinks.ValidationLabel] == "" {
			d.got = append(d.got, r)
		}
	}
	return nil
}

func (d *fakeDest) Close() error { return nil }

func (d *fakeDest) setFail(f func([]model.LogRecord) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = f
}

func (d *fakeDest) logs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, r := range d.got {
		out = append(out, r.Log)
	}
	return out
}

var errDown = &sinks.RetryableError{Err: errors.New("connection refused")}

func down([]model.LogRecord) error { return errDown }

var fastRetry = sinks.RetryPolicy{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}

type running struct {
	r      *sinks.Router
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfgs []sinks.SinkConfig, opts sinks.Options) *running {
	t.Helper()
	r, err := sinks.NewRouter(cfgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(run.stop)
	return run
}

func (r *running) stop() {
	r.cancel()
	<-r.done
	r.done <- nil // later stops return at once
}

func TestRouterSendsEachSinkItsShareAndAcksOnce(t *testing.T) {
	all, stderr := &fakeDest{}, &fakeDest{}
	run := start(t, []sinks.SinkConfig{
		{Spec: sinks.Spec{Name: "all", Type: "fake"}, Destination: all, Batch: sinks.BatchLimits{Timeout: time.Millisecond}},
		{Spec: sinks.Spec{Name: "errors", Type: "fake"}, Destination: stderr, Batch: sinks.BatchLimits{Timeout: time.Millisecond},
			Filter: sinks.Filter{Streams: []string{"stderr"}}},
		{Spec: sinks.Spec{Name: "none", Type: "fake"}, Destination: &fakeDest{}, Filter: sinks.Filter{Projects: []string{"other"}}},
	}, sinks.Options{DataDir: t.TempDir(), Retry: fastRetry})

	recs := sinktest.Numbered(0, 4)
	recs[1].Stream, recs[3].Stream = "stderr", "stderr"
	var acks atomic.Int32
	if err := run.r.Send(context.Background(), sinks.Batch{Records: recs, Ack: func() { acks.Add(1) }}); err != nil {
		t.Fatal(err)
	}
	if acks.Load() != 1 {
		t.Fatalf("Ack called %d times, want once", acks.Load())
	}
	sinktest.WaitFor(t, 20*time.Second, "deliveries", func() bool { return len(all.logs()) == 4 && len(stderr.logs()) == 2 })
	if got := stderr.logs(); got[0] != "line 000001" || got[1] != "line 000003" {
		t.Fatalf("stderr sink got %v", got)
	}

	// A batch no sink wants is acknowledged at once.
	other := sinktest.Numbered(0, 1)
	other[0].Project = "nobody"
	acks.Store(0)
	if err := run.r.Send(context.Background(), sinks.Batch{Records: other, Ack: func() { acks.Add(1) }}); err != nil {
		t.Fatal(err)
	}
	if acks.Load() != 1 {
		t.Fatal("a batch no sink takes was not acknowledged")
	}
}

// TestRouterAcksOnlyDurableRecords: when the collector hears Ack, the records
// are on disk in the sink's buffer (the destination is down, so they can be
// nowhere else).
func TestRouterAcksOnlyDurableRecords(t *testing.T) {
	dir := t.TempDir()
	run := start(t, []sinks.SinkConfig{
		{Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: &fakeDest{fail: down}},
	}, sinks.Options{DataDir: dir, Retry: fastRetry})
	var onDisk bool
	err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(7, 8), Ack: func() {
		segs, _ := filepath.Glob(filepath.Join(dir, "sinks", "s", "*.seg"))
		for _, s := range segs {
			data, _ := os.ReadFile(s)
			onDisk = onDisk || bytes.Contains(data, []byte("line 000007"))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !onDisk {
		t.Fatal("Ack came before the record was in the sink's buffer file")
	}
}

// TestRouterBackPressure: with a tiny buffer and the destination down, Send
// waits, sink.failing is emitted; when the destination comes back the
// buffer drains in order, Send returns and sink.recovered is emitted.
func TestRouterBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := &fakeDest{fail: down}
		var mu sync.Mutex
		var events []string
		r, err := sinks.NewRouter([]sinks.SinkConfig{{
			Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, BufferMaxBytes: 2048,
			Batch: sinks.BatchLimits{MaxEvents: 10, Timeout: 100 * time.Millisecond},
		}}, sinks.Options{DataDir: t.TempDir(), Emit: func(e model.Event) {
			mu.Lock()
			events = append(events, e.Name)
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()

		sent := make(chan int, 100)
		go func() {
			for i := range 40 {
				if err := r.Send(ctx, sinks.Batch{Records: sinktest.Numbered(i*5, i*5+5)}); err != nil {
					t.Error(err)
					return
				}
				sent <- i
			}
			close(sent)
		}()
		time.Sleep(10 * time.Minute) // fake time: the destination stays down for ten minutes
		synctest.Wait()
		if n := len(sent); n >= 40 {
			t.Fatal("every Send returned although the buffer is tiny and the destination down")
		}
		st := r.Sinks()[0]
		if st.State != model.SinkFailing || st.BufferBytes == 0 {
			t.Fatalf("status while down: %+v", st)
		}
		if v := st.Validation; v == nil || v.OK || !strings.Contains(v.Error, "connection refused") {
			t.Fatalf("the validation line's failure is not reported: %+v", v)
		}
		mu.Lock()
		if len(events) != 1 || events[0] != model.EventSinkFailing {
			t.Fatalf("events while down: %v, want one sink.failing", events)
		}
		mu.Unlock()

		dest.setFail(nil)
		for range sent {
		}
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		got := dest.logs()
		want := sinktest.Numbered(0, 200)
		if len(got) != len(want) {
			t.Fatalf("delivered %d records, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i].Log {
				t.Fatalf("record %d is %q, want %q: order or duplicates", i, got[i], want[i].Log)
			}
		}
		mu.Lock()
		if len(events) != 2 || events[1] != model.EventSinkRecovered {
			t.Fatalf("events: %v, want sink.failing then sink.recovered", events)
		}
		mu.Unlock()
		if st := r.Sinks()[0]; st.State != model.SinkRunning || st.BufferEvents != 0 {
			t.Fatalf("status after recovery: %+v", st)
		}
		cancel()
		<-done
	})
}

func TestRouterPauseAndResume(t *testing.T) {
	dest := &fakeDest{}
	dir := t.TempDir()
	cfg := []sinks.SinkConfig{{Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, Batch: sinks.BatchLimits{Timeout: time.Millisecond}}}
	run := start(t, cfg, sinks.Options{DataDir: dir, Retry: fastRetry})
	if err := run.r.Pause("s"); err != nil {
		t.Fatal(err)
	}
	if err := run.r.Pause("nope"); !errors.Is(err, sinks.ErrUnknownSink) {
		t.Fatalf("pausing an unknown sink: %v", err)
	}
	if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(0, 3)}); err != nil {
		t.Fatal(err)
	}
	sinktest.WaitFor(t, 20*time.Second, "records to wait in the buffer", func() bool { return run.r.Sinks()[0].BufferEvents == 3 })
	if st := run.r.Sinks()[0]; st.State != model.SinkPaused || len(dest.logs()) != 0 {
		t.Fatalf("paused sink: %+v, delivered %v", st, dest.logs())
	}

	// The pause outlasts a restart.
	run.stop()
	run = start(t, cfg, sinks.Options{DataDir: dir, Retry: fastRetry})
	sinktest.WaitFor(t, 20*time.Second, "buffer to open", func() bool { return run.r.Sinks()[0].BufferEvents == 3 })
	if st := run.r.Sinks()[0]; st.State != model.SinkPaused {
		t.Fatalf("after restart the sink is %s, want paused", st.State)
	}
	if err := run.r.Resume("s"); err != nil {
		t.Fatal(err)
	}
	sinktest.WaitFor(t, 20*time.Second, "delivery after resume", func() bool { return len(dest.logs()) == 3 })
}

// TestRouterPartialErrorRetriesOnlyListedRecords: the destination took
// record 0, wants 1 again and refuses 2 for good.
func TestRouterPartialErrorRetriesOnlyListedRecords(t *testing.T) {
	dir := t.TempDir()
	dest := &fakeDest{}
	var calls atomic.Int32
	dest.fail = func(recs []model.LogRecord) error {
		if recs[0].Labels[sinks.ValidationLabel] != "" {
			return nil
		}
		if calls.Add(1) == 1 {
			dest.got = append(dest.got, recs[0])
			return &sinks.PartialError{Retry: []int{1}, Rejected: map[int]string{2: "mapper_parsing_exception"}}
		}
		return nil
	}
	reg := prometheus.NewRegistry()
	run := start(t, []sinks.SinkConfig{{Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest,
		Batch: sinks.BatchLimits{MaxEvents: 3, Timeout: time.Millisecond}}}, sinks.Options{DataDir: dir, Retry: fastRetry, Registerer: reg})
	if err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(0, 3)}); err != nil {
		t.Fatal(err)
	}
	sinktest.WaitFor(t, 20*time.Second, "the retry", func() bool { return len(dest.logs()) == 2 })
	if got := dest.logs(); got[0] != "line 000000" || got[1] != "line 000001" {
		t.Fatalf("delivered %v", got)
	}
	dl := readDeadLetters(t, filepath.Join(dir, "sinks", "s", sinks.DeadLetterFile))
	if len(dl) != 1 || dl[0].Record.Log != "line 000002" || dl[0].Reason != "mapper_parsing_exception" {
		t.Fatalf("dead letters: %+v", dl)
	}

	// The self-metrics tell the same story, per sink and result.
	sinktest.WaitFor(t, 20*time.Second, "the buffer gauge to drop", func() bool {
		return gathered(t, reg, "opshub_sink_buffer_events") == 0
	})
	want := `
# HELP opshub_sink_events_total Log records by sink and result: sent (accepted by the destination), failed (in a failed attempt), retried (sent again), dead_lettered (refused for good).
# TYPE opshub_sink_events_total counter
opshub_sink_events_total{result="dead_lettered",sink="s"} 1
opshub_sink_events_total{result="failed",sink="s"} 1
opshub_sink_events_total{result="retried",sink="s"} 1
opshub_sink_events_total{result="sent",sink="s"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "opshub_sink_events_total"); err != nil {
		t.Error(err)
	}
	if n := gathered(t, reg, "opshub_sink_delivery_latency_seconds"); n != 2 {
		t.Errorf("%v delivery latencies observed, want 2 (the first delivery and the retry)", n)
	}
}

// gathered returns the value of a gauge, or the sample count of a
// histogram, of the only series of the family name.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no single series of %s", name)
	return 0
}

type deadLetter struct {
	Sink   string          `json:"sink"`
	Reason string          `json:"reason"`
	Record model.LogRecord `json:"record"`
}

func readDeadLetters(t *testing.T, path string) []deadLetter {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []deadLetter
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var d deadLetter
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("dead-letter line %q: %v", line, err)
		}
		out = append(out, d)
	}
	return out
}

// logLines returns the lines of the records rv accepted, in arrival order,
// without the sinks' validation records.
func logLines(rv *sinktest.LogReceiver) []string {
	var out []string
	for _, rec := range rv.Records() {
		if rec.Labels[sinks.ValidationLabel] == "" {
			out = append(out, rec.Log)
		}
	}
	return out
}

// TestRouterOutageAndRestart: an HTTP destination is down while records
// arrive and the router restarts (once gracefully, once after a crash that
// tore the last buffered record); when it comes back every record arrives,
// in order, none twice.
func TestRouterOutageAndRestart(t *testing.T) {
	rv := sinktest.StartLogReceiver(t)
	settings := plugintest.Decode(t, sinkhttp.Plugin.Settings(), "url: "+rv.URL)
	dir := t.TempDir()
	cfg := func() []sinks.SinkConfig {
		spec := sinks.Spec{Name: "web", Type: "http", Encoding: "json", Settings: settings}
		d, err := sinkhttp.New(spec)
		if err != nil {
			t.Fatal(err)
		}
		return []sinks.SinkConfig{{Spec: spec, Destination: d, Batch: sinks.BatchLimits{MaxEvents: 50, Timeout: 5 * time.Millisecond}}}
	}
	send := func(r *sinks.Router, from, to int) {
		for i := from; i < to; i += 10 {
			if err := r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(i, i+10)}); err != nil {
				t.Fatal(err)
			}
		}
	}

	run := start(t, cfg(), sinks.Options{DataDir: dir, Retry: fastRetry})
	send(run.r, 0, 300)
	sinktest.WaitFor(t, 20*time.Second, "the first 300 records", func() bool { return len(logLines(rv)) == 300 })

	rv.SetDown(true)
	send(run.r, 300, 1000)
	sinktest.WaitFor(t, 20*time.Second, "the sink to notice the outage", func() bool { return run.r.Sinks()[0].State == model.SinkFailing })
	run.stop()

	run = start(t, cfg(), sinks.Options{DataDir: dir, Retry: fastRetry})
	send(run.r, 1000, 1500)
	run.stop()
	// The crash: half a record at the end of the last segment, as a write
	// cut short by a power loss leaves it.
	segs, _ := filepath.Glob(filepath.Join(dir, "sinks", "web", "*.seg"))
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, '{', '"'}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	run = start(t, cfg(), sinks.Options{DataDir: dir, Retry: fastRetry})
	send(run.r, 1500, 2000)
	rv.SetDown(false)
	sinktest.WaitFor(t, 20*time.Second, "every record", func() bool { return len(logLines(rv)) >= 2000 })
	run.stop()
	got := logLines(rv)
	if len(got) != 2000 {
		t.Fatalf("received %d records, want 2000 exactly", len(got))
	}
	for i, line := range got {
		if want := fmt.Sprintf("line %06d", i); line != want {
			t.Fatalf("record %d is %q, want %q", i, line, want)
		}
	}
}

// TestRouterWithoutSinksRunsUntilCancelled: opshub run stops everything when
// one part returns, so a router with no sinks must keep running, and ack
// every batch at once.
func TestRouterWithoutSinksRunsUntilCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := sinks.NewRouter(nil, sinks.Options{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		acked := false
		if err := r.Send(ctx, sinks.Batch{Records: sinktest.Numbered(0, 2), Ack: func() { acked = true }}); err != nil || !acked {
			t.Fatalf("Send = %v, acked %v", err, acked)
		}
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Run returned %v before its context ended", err)
		default:
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestRouterWithoutBuffer: with the buffer turned off, a second batch waits
// for the first to be delivered, so nothing accumulates while the
// destination is down.
func TestRouterWithoutBuffer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := &fakeDest{fail: down}
		r, err := sinks.NewRouter([]sinks.SinkConfig{{
			Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, BufferMaxBytes: sinks.NoBuffer,
			Batch: sinks.BatchLimits{Timeout: time.Millisecond},
		}}, sinks.Options{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		if err := r.Send(ctx, sinks.Batch{Records: sinktest.Numbered(0, 3)}); err != nil {
			t.Fatal(err)
		}
		second := make(chan error, 1)
		go func() { second <- r.Send(ctx, sinks.Batch{Records: sinktest.Numbered(3, 4)}) }()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case err := <-second:
			t.Fatalf("a second batch was taken (%v) while the first waits for a down destination", err)
		default:
		}
		if st := r.Sinks()[0]; st.BufferMaxBytes != 0 || st.BufferEvents != 3 {
			t.Fatalf("status %+v", st)
		}
		dest.setFail(nil)
		if err := <-second; err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := dest.logs(); len(got) != 4 || got[3] != "line 000003" {
			t.Fatalf("delivered %v", got)
		}
		cancel()
		<-done
	})
}

func TestNewRouterRejectsBadSinks(t *testing.T) {
	if _, err := sinks.Lookup("test-router-known"); err != nil { // -count=N runs this again
		sinks.Register("test-router-known", func(sinks.Spec) (sinks.Destination, error) { return &fakeDest{}, nil })
	}
	tests := []struct {
		name string
		cfgs []sinks.SinkConfig
		want []string
	}{
		{"unknown type lists the known ones", []sinks.SinkConfig{{Spec: sinks.Spec{Name: "a", Type: "lokki"}}},
			[]string{`sink "a"`, `unknown sink type "lokki"`, "test-router-known"}},
		{"names are unique", []sinks.SinkConfig{
			{Spec: sinks.Spec{Name: "a", Type: "test-router-known"}},
			{Spec: sinks.Spec{Name: "a", Type: "test-router-known"}},
		}, []string{`sink "a": names must be unique`}},
		{"a bad filter names its key", []sinks.SinkConfig{{Spec: sinks.Spec{Name: "b", Type: "test-router-known"}, Filter: sinks.Filter{Exclude: "("}}},
			[]string{`sink "b": filter.exclude`}},
		{"every error at once", []sinks.SinkConfig{
			{Spec: sinks.Spec{Name: "a", Type: "nope"}},
			{Spec: sinks.Spec{Name: "b", Type: "test-router-known"}, Filter: sinks.Filter{Include: "["}},
		}, []string{`sink "a"`, `sink "b": filter.include`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sinks.NewRouter(tt.cfgs, sinks.Options{DataDir: t.TempDir()})
			if err == nil {
				t.Fatal("NewRouter accepted the config")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestRouterAcksDeliveredRecordsWithoutDiskWrites: while the destination
// keeps up, a batch is acknowledged once it was delivered, and the buffer
// file is never written: the collector's source files hold the records
// until the acknowledgement.
func TestRouterAcksDeliveredRecordsWithoutDiskWrites(t *testing.T) {
	dir := t.TempDir()
	dest := &fakeDest{}
	run := start(t, []sinks.SinkConfig{
		{Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, Batch: sinks.BatchLimits{MaxEvents: 4, Timeout: 50 * time.Millisecond}},
	}, sinks.Options{DataDir: dir, Retry: fastRetry})
	for i := range 5 {
		var delivered int
		err := run.r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(i*10, i*10+10), Ack: func() { delivered = len(dest.logs()) }})
		if err != nil {
			t.Fatal(err)
		}
		if delivered != i*10+10 {
			t.Fatalf("batch %d acknowledged with %d records delivered, want %d", i, delivered, i*10+10)
		}
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "sinks", "s", "*.seg"))
	for _, s := range segs {
		if fi, err := os.Stat(s); err != nil || fi.Size() != 0 {
			t.Fatalf("buffer segment %s written (%v) although the destination kept up", s, err)
		}
	}
	if got, want := dest.logs(), sinktest.Numbered(0, 50); len(got) != len(want) || got[49] != want[49].Log {
		t.Fatalf("delivered %d records", len(got))
	}
}

// hangingDest does not answer log records until release is closed.
type hangingDest struct {
	fakeDest
	release chan struct{}
}

func (d *hangingDest) Deliver(ctx context.Context, recs []model.LogRecord) error {
	if recs[0].Labels[sinks.ValidationLabel] == "" {
		select {
		case <-d.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return d.fakeDest.Deliver(ctx, recs)
}

// TestRouterSpillsWhenTheDestinationHangs: a destination that does not
// answer does not hold the collector back for longer than the batch timeout
// and the spill grace: the batch is then on disk and acknowledged, and once
// the destination answers every record arrives once, in order.
func TestRouterSpillsWhenTheDestinationHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		release := make(chan struct{})
		dest := &hangingDest{release: release}
		r, err := sinks.NewRouter([]sinks.SinkConfig{{
			Spec: sinks.Spec{Name: "s", Type: "fake"}, Destination: dest, Batch: sinks.BatchLimits{MaxEvents: 5, Timeout: time.Second},
		}}, sinks.Options{DataDir: dir, Retry: fastRetry})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()

		start := time.Now()
		if err := r.Send(ctx, sinks.Batch{Records: sinktest.Numbered(0, 10)}); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited > 10*time.Second {
			t.Fatalf("Send waited %s for a hanging destination", waited)
		}
		var data []byte
		segs, _ := filepath.Glob(filepath.Join(dir, "sinks", "s", "*.seg"))
		for _, s := range segs {
			b, _ := os.ReadFile(s)
			data = append(data, b...)
		}
		if !bytes.Contains(data, []byte("line 000000")) || !bytes.Contains(data, []byte("line 000009")) {
			t.Fatal("Send returned before the batch was on disk")
		}
		if err := r.Send(ctx, sinks.Batch{Records: sinktest.Numbered(10, 12)}); err != nil {
			t.Fatal(err)
		}
		close(release)
		time.Sleep(time.Minute)
		synctest.Wait()
		got := dest.logs()
		if len(got) != 12 {
			t.Fatalf("delivered %d records, want 12: %v", len(got), got)
		}
		for i, l := range got {
			if want := fmt.Sprintf("line %06d", i); l != want {
				t.Fatalf("record %d is %q, want %q: order or duplicates", i, l, want)
			}
		}
		cancel()
		<-done
	})
}
