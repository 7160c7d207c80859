package alerting

import (
	"context"
	"time"

	"github.com/opshub/opshub/model"
)

// LastLinesReader reads the last lines a container wrote, for crash and
// OOM events. On one machine collector.LastLines over the log API's reader
// reads the runtime's files; on a cluster the same over the controller's
// reader asks the collector of the pod's node. The pipeline knows no more
// than this interface, and bounds every call by Options.LastLinesTimeout.
type LastLinesReader interface {
	// LastLines returns up to n lines ref's container wrote before until,
	// oldest first; none, and no error, when it wrote none.
	LastLines(ctx context.Context, ref model.Ref, until time.Time, n int) ([]string, error)
}

// lastLinesKept is how many lines of a crashed container a crash event carries.
const lastLinesKept = 20

// DefaultLastLinesTimeout bounds the read of a crashed container's last
// lines, so that a slow or unreachable log reader leaves the crash
// notification well within its 2 s budget (it then goes out without them).
const DefaultLastLinesTimeout = time.Second

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
