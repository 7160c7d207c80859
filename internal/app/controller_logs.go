package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
	"github.com/opshub/opshub/platform/kubernetes"
	"github.com/opshub/opshub/server"
)

// collectorLogs answers the log API on the controller by asking the
// collectors of the nodes that host the service's instances, each of which
// reads the log files of its own node, and merging their answers by time.
type collectorLogs struct {
	services   server.ServiceReader
	collectors collectorLister
	node       server.NodeClient
}

var _ server.LogReader = (*collectorLogs)(nil)

// targets are the live collectors on the nodes of the service's instances.
func (c *collectorLogs) targets(ctx context.Context, q collector.Query) ([]kubernetes.CollectorEndpoint, error) {
	svc, err := c.services.Service(ctx, q.Project, q.Service)
	if errors.Is(err, platform.ErrNotFound) {
		return nil, fmt.Errorf("logs of %s/%s: %w", q.Project, q.Service, collector.ErrNoLogs)
	}
	if err != nil {
		return nil, err
	}
	nodes := map[string]bool{}
	for _, in := range svc.Instances {
		if in.Node != "" {
			nodes[in.Node] = true
		}
	}
	var out []kubernetes.CollectorEndpoint
	for _, col := range c.collectors.Live() {
		if nodes[col.Node] {
			out = append(out, col)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("logs of %s/%s: no live collector on the nodes of its instances: %w", q.Project, q.Service, collector.ErrNoLogs)
	}
	return out, nil
}

// Query asks every collector concerned in parallel and merges their lines
// by time, keeping the first limit (forward) or the last limit, newest
// first (backward), as one collector would. When only some collectors
// answer, their lines are returned; when none does, the first error is.
func (c *collectorLogs) Query(ctx context.Context, q collector.Query) ([]model.LogRecord, error) {
	targets, err := c.targets(ctx, q)
	if err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		q.Limit = collector.DefaultQueryLimit
	}
	if q.Direction == "" {
		q.Direction = collector.Backward
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		all     []model.LogRecord
		errs    []error
		answers int
	)
	for _, t := range targets {
		wg.Go(func() {
			recs, err := c.node.Logs(ctx, t.URL, q)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var apiErr *server.NodeAPIError
				if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
					answers++ // this node holds no lines of the service
					return
				}
				errs = append(errs, fmt.Errorf("collector on %s: %w", t.Node, err))
				return
			}
			answers++
			all = append(all, recs...)
		})
	}
	wg.Wait()
	if answers == 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortStableFunc(all, func(a, b model.LogRecord) int { return a.Time.Compare(b.Time) })
	if q.Direction == collector.Forward {
		return all[:min(len(all), q.Limit)], nil
	}
	all = all[max(0, len(all)-q.Limit):]
	slices.Reverse(all)
	return all, nil
}

// Follow follows every collector concerned at once and sends their lines as
// they arrive, one at a time. It returns when ctx ends, or with an error
// when a collector's stream fails.
func (c *collectorLogs) Follow(ctx context.Context, q collector.Query, send func(model.LogRecord) error) error {
	targets, err := c.targets(ctx, q)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg     sync.WaitGroup
		sendMu sync.Mutex
	)
	for _, t := range targets {
		wg.Go(func() {
			err := c.node.TailLogs(ctx, t.URL, q, func(rec model.LogRecord) error {
				sendMu.Lock()
				defer sendMu.Unlock()
				return send(rec)
			})
			if err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("collector on %s: %w", t.Node, err))
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
