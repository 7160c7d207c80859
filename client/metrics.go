package client

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
)

// MetricsQuery selects series of GET /api/v1/metrics. Zero fields are left
// to the server's defaults (the last 30 minutes at 15 s).
type MetricsQuery struct {
	Project, Service, Container string
	Types                       []model.MetricType
	Since                       time.Duration
	From, To                    time.Time
	Step                        time.Duration
	// Aggregate asks for one series per service instead of per instance.
	Aggregate bool
}

func (q MetricsQuery) values() url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("project", q.Project)
	set("service", q.Service)
	set("container", q.Container)
	if len(q.Types) > 0 {
		names := make([]string, len(q.Types))
		for i, t := range q.Types {
			names[i] = string(t)
		}
		v.Set("types", strings.Join(names, ","))
	}
	if q.Since > 0 {
		v.Set("since", q.Since.String())
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.Format(time.RFC3339))
	}
	if q.Step > 0 {
		v.Set("step", q.Step.String())
	}
	if q.Aggregate {
		v.Set("aggregate", "service")
	}
	return v
}

// Metrics queries container metric series.
func (c *Client) Metrics(ctx context.Context, q MetricsQuery) ([]model.MetricSeries, error) {
	var body struct {
		Series []model.MetricSeries `json:"series"`
	}
	if err := c.get(ctx, "/api/v1/metrics", q.values(), &body); err != nil {
		return nil, err
	}
	return body.Series, nil
}
