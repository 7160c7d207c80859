// Package triage decides which instances need someone's attention and says
// why, in words. `opshub status`, GET /api/v1/attention and the web UI's
// overview all use it, so the three always agree.
package triage

import (
	"fmt"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
)

// Item is one thing that needs attention: an instance, or a service
// without the instances it wants (Instance empty).
type Item struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Instance string `json:"instance,omitempty"`
	// Reason says why, as `opshub status` prints it:
	// "crashing, restarted 4 times; last exit code 1 (Error)".
	Reason string `json:"reason"`
}

// String is the line `opshub status` prints under "Needs attention".
func (it Item) String() string {
	name := it.Project + "/" + it.Service
	if it.Instance == "" {
		return name + ": " + it.Reason
	}
	return name + " " + it.Instance + ": " + it.Reason
}

// Services lists what needs attention in svcs, in their order.
func Services(svcs []model.Service, now time.Time) []Item {
	var out []Item
	for _, s := range svcs {
		if len(s.Instances) == 0 {
			if s.Replicas > 0 {
				out = append(out, Item{Project: s.Project, Service: s.Name,
					Reason: fmt.Sprintf("no instances, %d wanted", s.Replicas)})
			}
			continue
		}
		for _, in := range s.Instances {
			if why := Instance(in, now); why != "" {
				out = append(out, Item{Project: s.Project, Service: s.Name, Instance: in.Name, Reason: why})
			}
		}
	}
	return out
}

// Instance says why an instance should be looked at, or "".
func Instance(in model.Instance, now time.Time) string {
	var why []string
	switch in.Status {
	case model.StatusCrashing:
		why = append(why, "crashing, "+restartedTimes(in.Restarts))
	case model.StatusFailed:
		why = append(why, "failed and will not be restarted")
	case model.StatusRunning, model.StatusStarting:
		if !in.Ready && in.Status == model.StatusRunning {
			why = append(why, "running but not ready")
		}
		if in.LastExit != nil && now.Sub(in.LastExit.Time) < time.Hour && in.Restarts > 0 {
			why = append(why, fmt.Sprintf("%s, last %s ago", restartedTimes(in.Restarts), HumanDuration(now.Sub(in.LastExit.Time))))
		}
	}
	probeWhy := failingProbes(in)
	if len(why) == 0 && len(probeWhy) == 0 {
		return ""
	}
	if in.LastExit != nil && len(why) > 0 {
		why = append(why, "last exit "+ExitText(in.LastExit))
	}
	return strings.Join(append(why, probeWhy...), "; ")
}

// failingProbes describes the probes whose runs decided they fail, in the
// kubelet's words: "Readiness probe failed: HTTP probe failed with
// statuscode: 503 (3× in a row)". A readiness probe that has not run yet
// starts as failed and is not listed.
func failingProbes(in model.Instance) []string {
	var out []string
	for _, p := range in.Probes {
		if p.Result != "failure" || p.LastProbe.IsZero() {
			continue
		}
		msg := p.Message
		if p.LastFailure != nil {
			msg = p.LastFailure.Message
		}
		title := strings.ToUpper(p.Type[:1]) + p.Type[1:]
		line := fmt.Sprintf("%s probe failed: %s", title, Truncate(msg, 120))
		if p.Consecutive > 1 && LastRunFailed(p) {
			line += fmt.Sprintf(" (%d× in a row)", p.Consecutive)
		}
		out = append(out, line)
	}
	return out
}

// LastRunFailed reports whether the probe's latest run is its last failure.
func LastRunFailed(p model.ProbeStatus) bool {
	return p.LastFailure != nil && !p.LastProbe.IsZero() && p.LastFailure.Time.Equal(p.LastProbe)
}

// ExitText renders an exit: "code 1 (Error)", "SIGKILL (OOMKilled)".
func ExitText(e *model.Exit) string {
	s := fmt.Sprintf("code %d", e.Code)
	if e.Signal != "" {
		s = e.Signal
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

// Truncate shortens s to at most n runes on one line.
func Truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// HumanDuration renders d the way kubectl does: 45s, 3m20s, 5h10m, 3d4h.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 || m >= 10 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 || h >= 10 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
	}
}

func restartedTimes(n int) string {
	if n == 1 {
		return "restarted once"
	}
	return fmt.Sprintf("restarted %d times", n)
}
