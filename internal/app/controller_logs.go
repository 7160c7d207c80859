package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/opshub/opshub/client"
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
	http       *http.Client
	token      func() (string, error)
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

// logQueryValues writes q as the log endpoints' parameters.
func logQueryValues(q collector.Query) url.Values {
	v := url.Values{}
	v.Set("project", q.Project)
	v.Set("service", q.Service)
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("container", q.Container)
	set("textIncludes", q.TextIncludes)
	set("textNotIncludes", q.TextNotIncludes)
	set("direction", string(q.Direction))
	if q.RegexIncludes != nil {
		v.Set("regexIncludes", q.RegexIncludes.String())
	}
	if q.RegexNotIncludes != nil {
		v.Set("regexNotIncludes", q.RegexNotIncludes.String())
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
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
			var recs []model.LogRecord
			err := getCollector(ctx, c.http, c.token, t.URL, "/api/v1/logs", logQueryValues(q), &recs)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var apiErr *collectorAPIError
				if errors.As(err, &apiErr) && apiErr.code == http.StatusNotFound {
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
			err := c.follow(ctx, t, q, func(rec model.LogRecord) error {
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

// follow reads one collector's live tail (Server-Sent Events, a log record
// as JSON per "data:" line) until ctx ends or the stream does.
func (c *collectorLogs) follow(ctx context.Context, t kubernetes.CollectorEndpoint, q collector.Query, send func(model.LogRecord) error) error {
	req, err := collectorRequest(ctx, c.token, t.URL, "/api/v1/logs/tail", logQueryValues(q))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	// A tail has no end: only the connection, not the whole exchange, may
	// time out.
	hc := &http.Client{Transport: c.http.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return collectorError("/api/v1/logs/tail", resp.StatusCode, b)
	}
	if err := client.ReadLogEvents(resp.Body, send); err != nil && ctx.Err() == nil {
		return fmt.Errorf("tail: %w", err)
	}
	return nil
}
