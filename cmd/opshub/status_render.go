package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/triage"
)

// renderStatus writes the status table and the triage list, and for a
// single service each instance's probes in detail. now is passed in so that
// relative times are testable.
func renderStatus(w io.Writer, svcs []model.Service, now time.Time) error {
	if len(svcs) == 0 {
		_, err := fmt.Fprintln(w, "No services.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tREADY\tINSTANCE\tSTATUS\tRESTARTS\tPROBES\tLAST EXIT\tAGE")
	unenforced := ""
	for _, s := range svcs {
		ready := 0
		for _, in := range s.Instances {
			if in.Ready {
				ready++
			}
		}
		name := s.Project + "/" + s.Name
		readyCol := fmt.Sprintf("%d/%d", ready, s.Replicas)
		if len(s.Instances) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\n", name, readyCol)
			continue
		}
		for i, in := range s.Instances {
			svcCol, readyShown := name, readyCol
			if i > 0 {
				svcCol, readyShown = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", svcCol, readyShown, in.Name,
				statusColumn(in, now), in.Restarts, probesColumn(in), lastExitColumn(in.LastExit, now), ageColumn(in, now))
			if l := in.Limits; l != nil && !l.Enforced && (l.CPU != "" || l.Memory != "") {
				unenforced = l.Reason
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if unenforced != "" {
		fmt.Fprintf(w, "* resource limits are not enforced: %s\n", unenforced)
	}
	if attention := triage.Services(svcs, now); len(attention) > 0 {
		fmt.Fprintf(w, "\nNeeds attention:\n")
		for _, a := range attention {
			fmt.Fprintf(w, "  - %s\n", a)
		}
	}
	if len(svcs) == 1 {
		return renderProbes(w, svcs[0], now)
	}
	return nil
}

// probesColumn counts the instance's probes whose effective result is
// success: "2/3", or "-" without probes.
func probesColumn(in model.Instance) string {
	if len(in.Probes) == 0 {
		return "-"
	}
	passing := 0
	for _, p := range in.Probes {
		if p.Result == "success" {
			passing++
		}
	}
	return fmt.Sprintf("%d/%d", passing, len(in.Probes))
}

// renderProbes writes each instance's probes of one service: the check,
// the effective result with its streak, the last run's latency, the last
// change, and the last failure with its message.
func renderProbes(w io.Writer, s model.Service, now time.Time) error {
	has := false
	for _, in := range s.Instances {
		has = has || len(in.Probes) > 0
	}
	if !has {
		return nil
	}
	fmt.Fprintf(w, "\nProbes of %s/%s:\n", s.Project, s.Name)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  INSTANCE\tPROBE\tCHECK\tRESULT\tLATENCY\tCHANGED\tLAST FAILURE")
	for _, in := range s.Instances {
		for i, p := range in.Probes {
			name := in.Name
			if i > 0 {
				name = ""
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, p.Type, orDash(p.Handler), probeResult(p),
				probeLatency(p), sinceColumn(p.LastTransition, now), lastFailureColumn(p, now))
		}
	}
	return tw.Flush()
}

// probeResult is the effective result with the streak of the latest runs
// behind it: "success (12 in a row)", "failure (3 failed in a row)".
func probeResult(p model.ProbeStatus) string {
	if p.LastProbe.IsZero() || p.Consecutive == 0 {
		return p.Result + " (not run yet)"
	}
	streak := "passed"
	if triage.LastRunFailed(p) {
		streak = "failed"
	}
	return fmt.Sprintf("%s (%s %s)", p.Result, streak, timesWord(p.Consecutive))
}

func timesWord(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d× in a row", n)
}

// probeLatency renders the last run's latency: 0.31ms, 4.2ms, 350ms, 1.2s.
func probeLatency(p model.ProbeStatus) string {
	if p.LastProbe.IsZero() {
		return "-"
	}
	switch ms := p.LatencyMs; {
	case ms < 1:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 10:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.0fms", ms)
	default:
		return fmt.Sprintf("%.1fs", ms/1000)
	}
}

// lastFailureColumn is "12s ago: <message>", or "-" for a probe that never failed.
func lastFailureColumn(p model.ProbeStatus, now time.Time) string {
	f := p.LastFailure
	if f == nil {
		return "-"
	}
	return triage.HumanDuration(now.Sub(f.Time)) + " ago: " + triage.Truncate(f.Message, 100)
}

func sinceColumn(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return triage.HumanDuration(now.Sub(t)) + " ago"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func statusColumn(in model.Instance, now time.Time) string {
	s := string(in.Status)
	if in.Status == model.StatusCrashing && !in.NextRestart.IsZero() {
		s += fmt.Sprintf(" (back-off %s, restart in %s)", in.Backoff, triage.HumanDuration(in.NextRestart.Sub(now)))
	}
	if in.Status == model.StatusRunning && !in.Ready {
		s += " (not ready)"
	}
	if in.Limits != nil && !in.Limits.Enforced && (in.Limits.CPU != "" || in.Limits.Memory != "") {
		s += " *"
	}
	return s
}

func lastExitColumn(e *model.Exit, now time.Time) string {
	if e == nil {
		return "-"
	}
	return triage.ExitText(e) + " " + triage.HumanDuration(now.Sub(e.Time)) + " ago"
}

func ageColumn(in model.Instance, now time.Time) string {
	if in.StartedAt.IsZero() {
		return "-"
	}
	return triage.HumanDuration(now.Sub(in.StartedAt))
}
