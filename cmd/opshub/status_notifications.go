package main

import (
	"fmt"
	"io"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/triage"
)

// renderNotifications lists the notification integrations that are not
// delivering: disabled ones with their reason, and active ones that have
// failed recently. Healthy integrations are not listed; nothing is written
// when all are healthy.
func renderNotifications(w io.Writer, ints []client.Integration, now time.Time) {
	var lines []string
	for _, in := range ints {
		switch {
		case in.State != "active":
			line := fmt.Sprintf("  - %s (%s): %s", in.Name, in.Type, in.State)
			if !in.Since.IsZero() {
				line += " for " + triage.HumanDuration(now.Sub(in.Since))
			}
			if in.Reason != "" {
				line += ": " + in.Reason
			}
			lines = append(lines, line+"; `opshub deliveries resend ID` re-enables it")
		case in.Failures > 0:
			lines = append(lines, fmt.Sprintf("  - %s (%s): %d failed deliveries in a row, retrying", in.Name, in.Type, in.Failures))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\nNotifications needing attention:\n")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
