package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opshub/opshub/model"
)

// renderStatus writes the status table and the triage list. now is passed
// in so that relative times are testable.
func renderStatus(w io.Writer, svcs []model.Service, now time.Time) error {
	if len(svcs) == 0 {
		_, err := fmt.Fprintln(w, "No services.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tREADY\tINSTANCE\tSTATUS\tRESTARTS\tLAST EXIT\tAGE")
	var attention []string
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
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\n", name, readyCol)
			if s.Replicas > 0 {
				attention = append(attention, fmt.Sprintf("%s: no instances, %d wanted", name, s.Replicas))
			}
			continue
		}
		for i, in := range s.Instances {
			svcCol, readyShown := name, readyCol
			if i > 0 {
				svcCol, readyShown = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", svcCol, readyShown, in.Name,
				statusColumn(in, now), in.Restarts, lastExitColumn(in.LastExit, now), ageColumn(in, now))
			if l := in.Limits; l != nil && !l.Enforced && (l.CPU != "" || l.Memory != "") {
				unenforced = l.Reason
			}
			if why := needsAttention(in, now); why != "" {
				attention = append(attention, fmt.Sprintf("%s %s: %s", name, in.Name, why))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if unenforced != "" {
		fmt.Fprintf(w, "* resource limits are not enforced: %s\n", unenforced)
	}
	if len(attention) > 0 {
		fmt.Fprintf(w, "\nNeeds attention:\n")
		for _, a := range attention {
			fmt.Fprintf(w, "  - %s\n", a)
		}
	}
	return nil
}

func statusColumn(in model.Instance, now time.Time) string {
	s := string(in.Status)
	if in.Status == model.StatusCrashing && !in.NextRestart.IsZero() {
		s += fmt.Sprintf(" (back-off %s, restart in %s)", in.Backoff, humanDuration(in.NextRestart.Sub(now)))
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
	return exitText(e) + " " + humanDuration(now.Sub(e.Time)) + " ago"
}

func exitText(e *model.Exit) string {
	s := fmt.Sprintf("code %d", e.Code)
	if e.Signal != "" {
		s = e.Signal
	}
	if e.Reason != "" {
		s += " (" + e.Reason + ")"
	}
	return s
}

func ageColumn(in model.Instance, now time.Time) string {
	if in.StartedAt.IsZero() {
		return "-"
	}
	return humanDuration(now.Sub(in.StartedAt))
}

// needsAttention says why an instance should be looked at, or "".
func needsAttention(in model.Instance, now time.Time) string {
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
			why = append(why, fmt.Sprintf("%s, last %s ago", restartedTimes(in.Restarts), humanDuration(now.Sub(in.LastExit.Time))))
		}
	}
	if len(why) == 0 {
		return ""
	}
	if in.LastExit != nil {
		why = append(why, "last exit "+exitText(in.LastExit))
	}
	for _, p := range in.Probes {
		if p.Result == "failure" {
			why = append(why, fmt.Sprintf("%s probe failing: %s", p.Type, p.Message))
		}
	}
	return strings.Join(why, "; ")
}

// humanDuration renders d the way kubectl does: 45s, 3m20s, 5h10m, 3d4h.
func humanDuration(d time.Duration) string {
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
