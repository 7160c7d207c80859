package probes

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opshub/opshub/internal/promtest"
	"github.com/opshub/opshub/model"
)

// scripted is a Handler whose result the test sets; it records when it ran.
type scripted struct {
	mu      sync.Mutex
	result  Result
	output  string
	latency time.Duration
	calls   []time.Time
}

func (s *scripted) set(r Result, output string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.result, s.output = r, output
}

func (s *scripted) Probe(ctx context.Context, _ Target, _ time.Duration) Outcome {
	s.mu.Lock()
	s.calls = append(s.calls, time.Now())
	o := Outcome{Result: s.result, Output: s.output}
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		time.Sleep(latency)
	}
	return o
}

func (s *scripted) Describe() string { return "scripted" }

// callTimes returns the runs so far, as offsets from t0.
func (s *scripted) callTimes(t0 time.Time) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]time.Duration, len(s.calls))
	for i, c := range s.calls {
		out[i] = c.Sub(t0)
	}
	return out
}

// probeRig is one Container with scripted handlers, inside a synctest bubble.
type probeRig struct {
	t        *testing.T
	c        *Container
	m        *Manager
	handlers map[Type]*scripted
	mu       sync.Mutex
	changes  []Change
	cancel   context.CancelFunc
	done     chan struct{}
}

// runFor starts run 1 and the workers now, lets d pass in the bubble and
// waits for the workers to settle; it returns the run's start.
func (r *probeRig) runFor(d time.Duration) time.Time {
	t0 := time.Now()
	r.c.RunStarted(Run{ID: 1, StartedAt: t0})
	r.start()
	time.Sleep(d)
	synctest.Wait()
	return t0
}

// rig builds a Container over set. young makes the Manager start now (so
// first runs are jittered by jitter × period); otherwise it started an hour
// ago. Call it inside synctest.Test.
func rig(t *testing.T, set Set, young bool, jitter float64, ms *Metrics) *probeRig {
	t.Helper()
	m := NewManager(Options{Jitter: func() float64 { return jitter }, Metrics: ms})
	if !young {
		m.start = m.start.Add(-time.Hour)
	}
	r := &probeRig{t: t, m: m, handlers: map[Type]*scripted{}}
	for _, typ := range Types {
		r.handlers[typ] = &scripted{result: Success}
	}
	m.newHandler = func(typ Type, _ *Spec) Handler { return r.handlers[typ] }
	c, err := m.NewContainer(ContainerConfig{
		Ref:    model.Ref{Project: "demo", Service: "web", Instance: "web-abcd-0", Container: "web"},
		Probes: set,
		OnChange: func(ch Change) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.changes = append(r.changes, ch)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	return r
}

func (r *probeRig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		r.c.Run(ctx)
		close(r.done)
	}()
	r.t.Cleanup(r.stop)
}

func (r *probeRig) stop() {
	r.cancel()
	<-r.done
}

// takeChanges returns the changes since the last call, as "type:result"
// words with "+probed" and "+recovered" marks.
func (r *probeRig) takeChanges() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ch := range r.changes {
		s := string(ch.Type) + ":" + string(ch.Result)
		if ch.Probed {
			s += "+probed"
		}
		if ch.Recovered {
			s += "+recovered"
		}
		out = append(out, s)
	}
	r.changes = nil
	return out
}

func (r *probeRig) lastChange() Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changes[len(r.changes)-1]
}

func secs(ds ...int) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d) * time.Second
	}
	return out
}

func TestReadinessStartsFailedAndFollowsThresholds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rig(t, Set{Readiness: &Spec{TCP: &TCPAction{}, SuccessThreshold: 2, FailureThreshold: 3}}, false, 0, nil)
		if got := r.c.Status(false)[0]; got.Result != "failure" || got.Type != "readiness" {
			t.Fatalf("before any run: %+v", got)
		}
		t0 := r.runFor(0)
		if got := r.takeChanges(); len(got) != 0 {
			t.Fatalf("one success of two needed changed the result: %v", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := r.takeChanges(); !slices.Equal(got, []string{"readiness:success+probed"}) {
			t.Fatalf("after two successes: %v", got)
		}

		h := r.handlers[Readiness]
		h.set(Failure, "HTTP probe failed with statuscode: 503")
		time.Sleep(20 * time.Second) // two failures
		synctest.Wait()
		if got := r.takeChanges(); len(got) != 0 {
			t.Fatalf("two failures of three changed the result: %v", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := r.takeChanges(); !slices.Equal(got, []string{"readiness:failure+probed"}) {
			t.Fatalf("after three failures: %v", got)
		}
		st := r.c.Status(false)[0]
		if st.Result != "failure" || st.Consecutive != 3 || st.Message != "HTTP probe failed with statuscode: 503" ||
			st.LastFailure == nil || !st.LastTransition.Equal(t0.Add(40*time.Second)) {
			t.Errorf("status after the failure verdict: %+v", st)
		}

		h.set(Success, "ok")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := r.takeChanges(); len(got) != 0 {
			t.Fatalf("one success of two changed the result: %v", got)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := r.takeChanges(); !slices.Equal(got, []string{"readiness:success+probed+recovered"}) {
			t.Fatalf("after two successes: %v", got)
		}
		if got := h.callTimes(t0); !slices.Equal(got, secs(0, 10, 20, 30, 40, 50, 60)) {
			t.Errorf("runs at %v, want one every period from the start", got)
		}
		st = r.c.Status(false)[0]
		if st.Result != "success" || st.Message != "ok" || st.LastFailure == nil || st.LastFailure.Message != "HTTP probe failed with statuscode: 503" {
			t.Errorf("status after recovery keeps the last failure: %+v", st)
		}
	})
}

func TestLivenessFailureHoldsUntilTheNextRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rig(t, Set{Liveness: &Spec{HTTP: &HTTPAction{}}}, false, 0, nil) // period 10s, failure 3
		h := r.handlers[Liveness]
		h.set(Failure, "HTTP probe failed with statuscode: 500")
		t0 := r.runFor(0)
		if st := r.c.Status(false)[0]; st.Result != "success" {
			t.Fatalf("liveness must start passing: %+v", st)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		last := r.lastChange()
		got := r.takeChanges()
		if !slices.Equal(got, []string{"liveness:failure+probed"}) {
			t.Fatalf("after three failures: %v", got)
		}
		if msg := last.Message(); msg != "Liveness probe failed: HTTP probe failed with statuscode: 500" {
			t.Errorf("message %q", msg)
		}
		// On hold: the container is being restarted; no more runs.
		time.Sleep(60 * time.Second)
		synctest.Wait()
		if got := h.callTimes(t0); !slices.Equal(got, secs(0, 10, 20)) {
			t.Fatalf("runs at %v: a failed liveness probe must hold until the next run", got)
		}

		// The restarted container starts passing (the new run resets the
		// result at once), and the first passing run is reported as a
		// recovery.
		r.c.RunEnded()
		h.set(Success, "ok")
		r.c.RunStarted(Run{ID: 2, StartedAt: time.Now()})
		if st := r.c.Status(false)[0]; st.Result != "success" {
			t.Errorf("a new run must start with liveness passing: %+v", st)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := r.takeChanges(); !slices.Equal(got, []string{"liveness:success+probed+recovered"}) {
			t.Fatalf("after the restart: %v", got)
		}
	})
}

func TestStartupGatesTheOtherProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rig(t, Set{
			Startup:   &Spec{TCP: &TCPAction{}, Period: time.Second, FailureThreshold: 30},
			Readiness: &Spec{TCP: &TCPAction{}, Period: time.Second},
			Liveness:  &Spec{TCP: &TCPAction{}, Period: time.Second, FailureThreshold: 1},
		}, false, 0, nil)
		r.handlers[Startup].set(Failure, "dial tcp 127.0.0.1:8080: connect: connection refused")
		r.handlers[Liveness].set(Failure, "dial tcp 127.0.0.1:8080: connect: connection refused")
		t0 := r.runFor(5 * time.Second)
		if r.c.Started() {
			t.Fatal("started before the startup probe passed")
		}
		if n := len(r.handlers[Readiness].callTimes(t0)) + len(r.handlers[Liveness].callTimes(t0)); n != 0 {
			t.Fatalf("%d readiness or liveness runs before startup", n)
		}
		if got := r.takeChanges(); len(got) != 0 {
			t.Fatalf("changes while starting: %v", got)
		}

		// Startup passes; liveness (failing, threshold 1) now runs and fails.
		r.handlers[Startup].set(Success, "")
		time.Sleep(time.Second)
		synctest.Wait()
		if !r.c.Started() {
			t.Fatal("not started after the startup probe passed")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := len(r.handlers[Startup].callTimes(t0)); got != 7 {
			t.Errorf("startup ran %d times, want 7 (6 failures, 1 success, then no more)", got)
		}
		got := r.takeChanges()
		slices.Sort(got) // the workers run side by side
		if !slices.Equal(got, []string{"liveness:failure+probed", "readiness:success+probed", "startup:success+probed"}) {
			t.Errorf("changes after startup: %v", got)
		}
	})
}

func TestStartupFailureIsAVerdict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rig(t, Set{Startup: &Spec{Exec: &ExecAction{Command: []string{"true"}}, Period: 2 * time.Second, FailureThreshold: 3}}, false, 0, nil)
		r.handlers[Startup].set(Failure, "command exited with code 1")
		t0 := r.runFor(0)
		if st := r.c.Status(false)[0]; st.Result != "unknown" {
			t.Fatalf("startup must start unknown: %+v", st)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		last := r.lastChange()
		if got := r.takeChanges(); !slices.Equal(got, []string{"startup:failure+probed"}) {
			t.Fatalf("changes: %v", got)
		}
		if got := r.handlers[Startup].callTimes(t0); !slices.Equal(got, secs(0, 2, 4)) {
			t.Errorf("runs at %v: a startup verdict holds the probe", got)
		}
		if msg := last.Message(); msg != "Startup probe failed: command exited with code 1" {
			t.Errorf("message %q", msg)
		}
	})
}

func TestInitialDelayCountsFromTheRunStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rig(t, Set{Readiness: &Spec{HTTP: &HTTPAction{}, InitialDelay: 25 * time.Second}}, false, 0, nil)
		t0 := r.runFor(45 * time.Second)
		if got := r.handlers[Readiness].callTimes(t0); !slices.Equal(got, secs(30, 40)) {
			t.Errorf("runs at %v, want the first tick after 25s and on", got)
		}
	})
}

func TestFirstRunJitter(t *testing.T) {
	t.Run("a young manager spreads first runs over the period", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := rig(t, Set{Liveness: &Spec{TCP: &TCPAction{}}}, true, 0.25, nil)
			t0 := r.runFor(13 * time.Second)
			if got := r.handlers[Liveness].callTimes(t0); !slices.Equal(got, []time.Duration{2500 * time.Millisecond, 12500 * time.Millisecond}) {
				t.Errorf("runs at %v, want 2.5s (a quarter of the period) and every period after", got)
			}
		})
	})
	t.Run("an old manager does not jitter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := rig(t, Set{Liveness: &Spec{TCP: &TCPAction{}}}, false, 0.25, nil)
			t0 := r.runFor(11 * time.Second)
			if got := r.handlers[Liveness].callTimes(t0); !slices.Equal(got, secs(0, 10)) {
				t.Errorf("runs at %v", got)
			}
		})
	})
}

func TestReadinessRunsAtOnceForANewRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rig(t, Set{Readiness: &Spec{TCP: &TCPAction{}}}, false, 0, nil)
		t0 := time.Now()
		r.start() // the worker ticks at 0, 10, 20… with no run yet
		time.Sleep(3 * time.Second)
		r.c.RunStarted(Run{ID: 1, StartedAt: time.Now()})
		time.Sleep(time.Second)
		synctest.Wait()
		if got := r.handlers[Readiness].callTimes(t0); !slices.Equal(got, secs(3)) {
			t.Fatalf("runs at %v, want one right at the run's start", got)
		}
		if got := r.takeChanges(); !slices.Equal(got, []string{"readiness:success+probed"}) {
			t.Errorf("changes %v", got)
		}
		// A run that ends stops the probing and is not ready.
		r.c.RunEnded()
		if st := r.c.Status(false)[0]; st.Result != "failure" {
			t.Errorf("readiness of a stopped run: %+v", st)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := len(r.handlers[Readiness].callTimes(t0)); got != 1 {
			t.Errorf("%d runs, want none while the container is not running", got-1)
		}
		// The next run starts unready until its own runs pass.
		r.handlers[Readiness].set(Failure, "HTTP probe failed with statuscode: 503")
		r.c.RunStarted(Run{ID: 2, StartedAt: time.Now()})
		synctest.Wait()
		if st := r.c.Status(false)[0]; st.Result != "failure" || r.c.Result(Readiness) != Failure {
			t.Errorf("readiness of a new run: %+v", st)
		}
	})
}

func TestSlowRunResultOfAnEndedRunIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rig(t, Set{Liveness: &Spec{TCP: &TCPAction{}, FailureThreshold: 1}}, false, 0, nil)
		h := r.handlers[Liveness]
		h.set(Failure, "timeout")
		h.latency = 5 * time.Second
		r.c.RunStarted(Run{ID: 1, StartedAt: time.Now()})
		r.start()
		time.Sleep(time.Second)
		r.c.RunEnded() // while the run is in flight
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := r.takeChanges(); len(got) != 0 {
			t.Errorf("a run of an ended container decided: %v", got)
		}
	})
}

func TestMetricSeriesComeAndGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms := NewMetrics()
		r := rig(t, Set{Readiness: &Spec{TCP: &TCPAction{}}, Liveness: &Spec{TCP: &TCPAction{}}}, false, 0, ms)
		r.handlers[Liveness].latency = 20 * time.Millisecond
		r.handlers[Readiness].set(Failure, "no")
		r.c.RunStarted(Run{ID: 1, StartedAt: time.Now()})
		r.start()
		time.Sleep(time.Second)
		synctest.Wait()
		out := promtest.Exposition(t, ms)
		labels := `{container="web",instance="web-abcd-0",probe_type="%s",project="demo",service="web"}`
		for _, want := range []string{
			"opshub_probe_success" + strings.Replace(labels, "%s", "readiness", 1) + " 0",
			"opshub_probe_success" + strings.Replace(labels, "%s", "liveness", 1) + " 1",
			"opshub_probe_duration_seconds" + strings.Replace(labels, "%s", "liveness", 1) + " 0.02",
		} {
			if !strings.Contains(out, want+"\n") {
				t.Errorf("metrics lack %q:\n%s", want, out)
			}
		}
		r.stop()
		if out := promtest.Exposition(t, ms); out != "" {
			t.Errorf("series left after the container went away:\n%s", out)
		}
	})
}

func TestTrackerKeepsTheLastHundredRuns(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tr := NewTracker(Readiness, "http GET :$PORT/ready", Failure, t0)
	for i := range 150 {
		o := Outcome{Result: Success, Output: "ok", Time: t0.Add(time.Duration(i) * time.Second), Latency: time.Duration(i) * time.Millisecond}
		switch {
		case i == 120:
			o.Result, o.Output = Failure, "HTTP probe failed with statuscode: 503"
		case i >= 147:
			o.Result, o.Output = Warning, "Probe terminated redirects, Response body: "
		}
		tr.Record(o)
	}
	st := tr.Status(true)
	if len(st.History) != HistorySize || !st.History[0].Time.Equal(t0.Add(50*time.Second)) || !st.History[99].Time.Equal(t0.Add(149*time.Second)) {
		t.Fatalf("history has %d runs from %v to %v, want 100 from 50s to 149s", len(st.History), st.History[0].Time, st.History[len(st.History)-1].Time)
	}
	if st.History[70].Result != "failure" || st.History[99].Result != "warning" || st.History[99].LatencyMs != 149 {
		t.Errorf("history entries: %+v, %+v", st.History[70], st.History[99])
	}
	if st.Consecutive != 29 {
		t.Errorf("consecutive %d, want 29 (warnings count as successes)", st.Consecutive)
	}
	if st.LastFailure == nil || st.LastFailure.Message != "HTTP probe failed with statuscode: 503" || !st.LastFailure.Time.Equal(t0.Add(120*time.Second)) {
		t.Errorf("last failure %+v", st.LastFailure)
	}
	if st.Result != "failure" || !st.LastTransition.Equal(t0) || st.Handler != "http GET :$PORT/ready" {
		t.Errorf("status %+v", st)
	}
	if got := tr.Status(false).History; got != nil {
		t.Errorf("history without asking: %d runs", len(got))
	}
}

func TestNormalize(t *testing.T) {
	set := Set{Readiness: &Spec{HTTP: &HTTPAction{}}}
	if err := set.Normalize(); err != nil {
		t.Fatal(err)
	}
	p := set.Readiness
	if p.Period != 10*time.Second || p.Timeout != time.Second || p.SuccessThreshold != 1 || p.FailureThreshold != 3 || p.InitialDelay != 0 ||
		p.HTTP.Path != "/" || p.HTTP.Scheme != "HTTP" {
		t.Errorf("defaults are not the kubelet's: %+v %+v", *p, *p.HTTP)
	}

	bad := Set{
		Startup:   &Spec{TCP: &TCPAction{}, SuccessThreshold: 2},
		Liveness:  &Spec{SuccessThreshold: 3},
		Readiness: &Spec{HTTP: &HTTPAction{Path: "ready"}, TCP: &TCPAction{}, FailureThreshold: -1},
	}
	err := bad.Normalize()
	for _, want := range []string{
		"startup probe: success threshold must be 1 for startup probes, got 2",
		"liveness probe: needs exactly one of http, tcp, exec or grpc, has 0",
		"liveness probe: success threshold must be 1 for liveness probes, got 3",
		"readiness probe: needs exactly one of http, tcp, exec or grpc, has 2",
		"readiness probe: failure threshold -1 is less than 1",
		`readiness probe: http path "ready" must start with /`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// TestTicksAlignTo100ms: first-run jitter and a manual run move a probe's
// schedule onto 100 ms steps, so that probes due together run together;
// the period between ticks stays exact.
func TestTicksAlignTo100ms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := rig(t, Set{Readiness: &Spec{TCP: &TCPAction{}, Period: time.Second}}, true, 0.123, nil)
		t0 := time.Now()
		r.start()
		time.Sleep(2050 * time.Millisecond)
		r.c.RunStarted(Run{ID: 1, StartedAt: time.Now()}) // runs at once, at 2.05s
		time.Sleep(2 * time.Second)
		synctest.Wait()
		want := []time.Duration{2050 * time.Millisecond, 3 * time.Second, 4 * time.Second}
		if got := r.handlers[Readiness].callTimes(t0); !slices.Equal(got, want) {
			t.Errorf("runs at %v, want %v", got, want)
		}
	})
}
