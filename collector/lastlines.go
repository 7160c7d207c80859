package collector

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/opshub/opshub/model"
)

// Querier answers log queries: *Reader over local files, or the
// controller's reader over the collectors of a cluster.
type Querier interface {
	Query(ctx context.Context, q Query) ([]model.LogRecord, error)
}

// LastLines reads the last lines a container wrote through a Querier; it
// is the alerting pipeline's reader of a crashed container's lines
// (alerting.LastLinesReader).
type LastLines struct {
	Reader Querier
}

// lastLinesLookback bounds how far back LastLines looks, so that the files
// of long-gone runs are not read.
const lastLinesLookback = 24 * time.Hour

// LastLines returns up to n last lines ref's container wrote before until,
// oldest first; none when it wrote none.
func (l LastLines) LastLines(ctx context.Context, ref model.Ref, until time.Time, n int) ([]string, error) {
	q := Query{
		Project: ref.Project, Service: ref.Service, Container: ref.Instance,
		From: until.Add(-lastLinesLookback), To: until,
		Limit: n, Direction: Backward,
	}
	if q.Container == "" {
		q.Container = ref.Container
	}
	// The instance may run other containers (sidecars): ask for more and
	// keep this one's.
	if ref.Instance != "" && ref.Container != "" {
		q.Limit = 4 * n
	}
	recs, err := l.Reader.Query(ctx, q)
	if errors.Is(err, ErrNoLogs) {
		return nil, nil
	}
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
	slices.Reverse(lines)
	return lines, nil
}
