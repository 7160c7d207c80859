package probes

import (
	"sync"
	"time"

	"github.com/opshub/opshub/model"
)

// HistorySize is how many runs a Tracker keeps.
const HistorySize = 100

// Tracker keeps what people want to know about one probe of one
// container: its effective result and when that last changed, the last
// run (result, latency, response or error), how many runs in a row agreed,
// the last failure, and the last HistorySize runs.
//
// The workers of a Container feed it; on Kubernetes, where the kubelet
// probes, a translator can feed the same Tracker from container
// ready/started flags (SetResult) and Unhealthy events (Record), so that
// both platforms report one model.ProbeStatus. It is safe for concurrent
// use.
type Tracker struct {
	mu             sync.Mutex
	typ            Type
	handler        string
	result         Result
	lastTransition time.Time
	last           Outcome
	ran            bool
	consecutive    int
	lastFailure    *model.ProbeRun
	history        [HistorySize]model.ProbeRun
	n, next        int // runs kept; where the next one goes
}

// NewTracker starts tracking a probe of type t whose check handler
// describes, with an effective result of initial as of now.
func NewTracker(t Type, handler string, initial Result, now time.Time) *Tracker {
	return &Tracker{typ: t, handler: handler, result: initial, lastTransition: now}
}

// Record adds one run.
func (t *Tracker) Record(o Outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ran && t.last.Result.passed() == o.Result.passed() {
		t.consecutive++
	} else {
		t.consecutive = 1
	}
	t.last, t.ran = o, true
	run := model.ProbeRun{Time: o.Time, Result: string(o.Result), LatencyMs: ms(o.Latency)}
	t.history[t.next] = run
	t.next = (t.next + 1) % HistorySize
	t.n = min(t.n+1, HistorySize)
	if o.Result == Failure {
		run.Message = snippet(o.Output)
		t.lastFailure = &run
	}
}

// SetResult sets the effective result; it reports whether it changed, and
// then at is its transition time.
func (t *Tracker) SetResult(r Result, at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.result == r {
		return false
	}
	t.result, t.lastTransition = r, at
	return true
}

// Result is the effective result.
func (t *Tracker) Result() Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.result
}

// Status renders the probe for the API, with its run history when
// history is set.
func (t *Tracker) Status(history bool) model.ProbeStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := model.ProbeStatus{
		Type:           string(t.typ),
		Result:         string(t.result),
		Consecutive:    t.consecutive,
		LastTransition: t.lastTransition,
		Handler:        t.handler,
	}
	if t.ran {
		s.LatencyMs = ms(t.last.Latency)
		s.Message = snippet(t.last.Output)
		s.LastProbe = t.last.Time
	}
	if t.lastFailure != nil {
		f := *t.lastFailure
		s.LastFailure = &f
	}
	if history && t.n > 0 {
		s.History = make([]model.ProbeRun, 0, t.n)
		start := (t.next - t.n + HistorySize) % HistorySize
		for i := range t.n {
			s.History = append(s.History, t.history[(start+i)%HistorySize])
		}
	}
	return s
}

// ms renders a duration in milliseconds, rounded to microseconds.
func ms(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}
