package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/triage"
)

// renderAutoscaling writes each autoscaled service's latest decision: the
// per-metric proposals, the count chosen and what limited it.
func renderAutoscaling(w io.Writer, ds []client.AutoscalingDecision, now time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nAutoscaling:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVICE\tREPLICAS\tMIN-MAX\tMETRICS\tDECIDED\tWHY")
	for _, d := range ds {
		var ms []string
		for _, m := range d.Metrics {
			if m.Invalid != "" {
				ms = append(ms, string(m.Resource)+" invalid")
				continue
			}
			ms = append(ms, fmt.Sprintf("%s %d%%/%d%% -> %d", m.Resource, m.Utilization, m.Target, m.Replicas))
		}
		if len(ms) == 0 {
			ms = append(ms, "-")
		}
		replicas := fmt.Sprintf("%d", d.Current)
		if d.Desired != d.Current {
			replicas = fmt.Sprintf("%d -> %d", d.Current, d.Desired)
		}
		when := "-"
		if !d.Time.IsZero() {
			when = triage.HumanDuration(now.Sub(d.Time)) + " ago"
		}
		fmt.Fprintf(tw, "  %s/%s\t%s\t%d-%d\t%s\t%s\t%s: %s\n", d.Project, d.Service, replicas, d.MinReplicas, d.MaxReplicas,
			strings.Join(ms, ", "), when, d.Limit, d.Reason)
	}
	return tw.Flush()
}
