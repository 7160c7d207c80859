package alerting

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
)

// LogReader is what the pipeline needs of the log API to put the last lines
// of a crashed container into its event: the Query half of server.LogReader.
// On one machine *collector.Reader reads the runtime's files; on a cluster
// the controller's reader asks the collector of the pod's node. The
// pipeline knows no more than this interface, and bounds every call by
// Options.LastLinesTimeout.
type LogReader interface {
	Query(ctx context.Context, q collector.Query) ([]model.LogRecord, error)
}

// lastLinesKept is how many lines of a crashed container a crash event carries.
const lastLinesKept = 20

// DefaultLastLinesTimeout bounds the read of a crashed container's last
// lines, so that a slow or unreachable log reader leaves the crash
// notification well within its 2 s budget (it then goes out without them).
const DefaultLastLinesTimeout = time.Second

// lastLinesLookback bounds how far back the reader looks for the last lines,
// so that the files of long-gone runs are not read.
const lastLinesLookback = 24 * time.Hour

// exitSlack is how long after a container's recorded finish time its last
// lines may be stamped: the runtime drains the output pipes after the
// process ended, and Kubernetes keeps the finish time to the second.
const exitSlack = time.Second

// wantsLastLines reports whether an event is about a container that ended
// and so carries its last lines.
func wantsLastLines(ev model.Event) bool {
	return ev.Name == model.EventContainerCrash || ev.Name == model.EventContainerOOM
}

// linesUntil is the time before which the run that ended in ie wrote its
// lines: the event's time, or the exit's finish time and exitSlack if that
// is earlier (on Kubernetes the next run may have started by the time the
// exit is seen).
func linesUntil(ie model.InstanceEvent) time.Time {
	until := ie.Time
	if ie.Exit != nil && !ie.Exit.Time.IsZero() {
		if t := ie.Exit.Time.Add(exitSlack); t.Before(until) {
			until = t
		}
	}
	return until.Add(time.Nanosecond) // Query's To is exclusive
}

// errNoLines is returned when the reader had nothing for the container.
var errNoLines = errors.New("no log lines found")

// readLastLines returns up to n last lines ref's container wrote before
// until, oldest first.
func readLastLines(ctx context.Context, r LogReader, ref model.Ref, until time.Time, n int) ([]string, error) {
	q := collector.Query{
		Project: ref.Project, Service: ref.Service, Container: ref.Instance,
		From: until.Add(-lastLinesLookback), To: until,
		Limit: n, Direction: collector.Backward,
	}
	if q.Container == "" {
		q.Container = ref.Container
	}
	// The instance may run other containers (sidecars): ask for more and
	// keep this one's.
	if ref.Instance != "" && ref.Container != "" {
		q.Limit = 4 * n
	}
	recs, err := r.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, rec := range recs { // newest first
		if ref.Instance != "" && ref.Container != "" && rec.Container != "" && rec.Container != ref.Container {
			continue
		}
		lines = append(lines, rec.Log)
		if len(lines) == n {
			break
		}
	}
	if len(lines) == 0 {
		return nil, errNoLines
	}
	slices.Reverse(lines)
	return lines, nil
}
