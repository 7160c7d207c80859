package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/triage"
)

// showSinks writes the Sinks section of `opshub status`: each log sink's
// state, what waits in its buffer and what went wrong last. It writes
// nothing when no sink is configured, the server predates sinks, or the
// status asked for is one service's (all is false).
func showSinks(ctx context.Context, w io.Writer, c *client.Client, all bool, now time.Time) error {
	if !all {
		return nil
	}
	st, err := collectorForJSON(ctx, c, all)
	if err != nil {
		return err
	}
	renderCollector(w, st, now)
	list, err := c.Sinks(ctx)
	if client.NotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return renderSinks(w, list, now)
}

// sinksForJSON returns the sinks for `opshub status -o json`: nil (the
// key is left out) where the table view shows no Sinks section because one
// service was asked for or the server predates sinks, otherwise the list,
// empty when no sink is configured.
func sinksForJSON(ctx context.Context, c *client.Client, all bool) (*[]model.SinkStatus, error) {
	if !all {
		return nil, nil
	}
	list, err := c.Sinks(ctx)
	if client.NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []model.SinkStatus{}
	}
	return &list, nil
}

// collectorForJSON returns the collector's state where the Sinks section
// is shown, nil where it is not or the server runs no collector.
func collectorForJSON(ctx context.Context, c *client.Client, all bool) (*model.CollectorStatus, error) {
	if !all {
		return nil, nil
	}
	st, err := c.CollectorStatus(ctx)
	if client.NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// renderCollector says that the collector does not read, and why; nothing
// while it reads.
func renderCollector(w io.Writer, st *model.CollectorStatus, now time.Time) {
	if st == nil || st.State != model.CollectorHeld {
		return
	}
	fmt.Fprintf(w, "\nCollector: not reading log files for %s: %s; it reads on by itself once that can be written\n",
		triage.HumanDuration(now.Sub(st.Since)), st.Reason)
}

func renderSinks(w io.Writer, list []model.SinkStatus, now time.Time) error {
	if len(list) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nSinks:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tTYPE\tSTATE\tBUFFER\tSENT\tRETRIED\tDEAD-LETTERED\tLAST DELIVERY\tNOTE")
	for _, s := range list {
		last := "never"
		if !s.LastDelivery.IsZero() {
			last = triage.HumanDuration(now.Sub(s.LastDelivery)) + " ago"
		}
		note := "-"
		switch {
		case s.Removing:
			note = "removed by a config reload: delivers its buffer for " + triage.HumanDuration(s.DrainUntil.Sub(now)) + " more at most"
			if s.LastError != "" {
				note += "; " + s.LastError
			}
		case s.BufferError != "":
			note = "buffer cannot be written for " + triage.HumanDuration(now.Sub(s.BufferErrorSince)) + ": " + s.BufferError
			if s.LastError != "" {
				note += "; " + s.LastError
			}
		case s.LastError != "":
			note = s.LastError
		case s.Validation != nil && !s.Validation.OK:
			note = "validation line failed: " + s.Validation.Error
		case s.Validation != nil:
			note = "validation line delivered"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s/%s (%d)\t%d\t%d\t%d\t%s\t%s\n", s.Name, s.Type, s.State,
			sinkSize(s.BufferBytes), sinkSize(s.BufferMaxBytes), s.BufferEvents, s.Sent, s.Retried, s.DeadLettered, last, note)
	}
	return tw.Flush()
}

// sinkSize renders a byte count with a binary unit: 0B, 512B, 1.5KiB, 1GiB.
func sinkSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	s := fmt.Sprintf("%.1f", v)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[i]
}
