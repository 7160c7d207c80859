package probes

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Result is the outcome of a probe: of one run (Success, Warning, Failure)
// or, after the thresholds, of the probe as a whole (Success, Failure,
// Unknown).
type Result string

// The results, with the words model.ProbeStatus uses.
const (
	Success Result = "success"
	// Warning is a run that passed with a remark: an HTTP redirect that
	// was not followed. It counts as a success, as in the kubelet.
	Warning Result = "warning"
	Failure Result = "failure"
	// Unknown is the effective result of a startup probe before its
	// verdict, and of any probe of a container that has not run yet.
	Unknown Result = "unknown"
)

// passed folds a run's result into success or failure, as the kubelet
// counts it towards the thresholds.
func (r Result) passed() Result {
	if r == Warning {
		return Success
	}
	return r
}

// Outcome is what one run of a probe found.
type Outcome struct {
	Result Result // Success, Warning or Failure
	// Output is the kubelet's probe output: on success the response body or
	// the command's output, on failure why ("HTTP probe failed with
	// statuscode: 503", "dial tcp 127.0.0.1:8080: connect: connection
	// refused", `command "cat /tmp/x" timed out`).
	Output string
	// Time is when the run started; Latency how long it took.
	Time    time.Time
	Latency time.Duration
	// StatusCode is the HTTP status of an HTTP probe's response, else 0.
	StatusCode int
}

// failed makes a failure outcome.
func failed(format string, args ...any) Outcome {
	return Outcome{Result: Failure, Output: fmt.Sprintf(format, args...)}
}

// UnhealthyMessage is the message the kubelet records for a failed or
// warned probe run, in its exact form: "Liveness probe failed: HTTP probe
// failed with statuscode: 500", "Readiness probe warning: Probe terminated
// redirects, Response body: …". It is "" for a success.
func UnhealthyMessage(t Type, o Outcome) string {
	switch o.Result {
	case Failure:
		return t.title() + " probe failed: " + o.Output
	case Warning:
		return t.title() + " probe warning: " + o.Output
	}
	return ""
}

// maxMessage bounds the snippet of a response or output kept in a status.
const maxMessage = 512

// snippet trims s to a one-line-ish message of at most maxMessage bytes,
// cut at a rune boundary.
func snippet(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
