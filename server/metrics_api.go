package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
)

// MetricsQuery selects container metric series for GET /api/v1/metrics.
// Empty strings and a nil Types select everything.
type MetricsQuery struct {
	Project, Service, Container string
	Types                       []model.MetricType
	From, To                    time.Time
	Step                        time.Duration
	// Aggregate combines the instances of each service into one series.
	Aggregate bool
}

// MetricsReader answers metric queries; the metrics package's store, wrapped
// by internal/app, satisfies it.
type MetricsReader interface {
	QueryMetrics(q MetricsQuery) []model.MetricSeries
}

// Defaults of the metrics endpoint: the last 30 minutes at 15 s.
const (
	defaultMetricsSince = 30 * time.Minute
	defaultMetricsStep  = 15 * time.Second
	maxMetricsPoints    = 11_000
)

type metricsResponse struct {
	Series []model.MetricSeries `json:"series"`
}

func (s *Server) queryMetrics(w http.ResponseWriter, r *http.Request) {
	if s.opts.Metrics == nil {
		writeError(w, http.StatusNotFound, "metrics are not collected by this opshub", "")
		return
	}
	q, field, err := parseMetricsQuery(r, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), field)
		return
	}
	series := s.opts.Metrics.QueryMetrics(q)
	if series == nil {
		series = []model.MetricSeries{}
	}
	writeJSON(w, http.StatusOK, metricsResponse{Series: series})
}

// parseMetricsQuery reads the query parameters of the metrics endpoint. It
// returns the name of the bad parameter with an error.
func parseMetricsQuery(r *http.Request, now time.Time) (MetricsQuery, string, error) {
	v := r.URL.Query()
	q := MetricsQuery{
		Project:   v.Get("project"),
		Service:   v.Get("service"),
		Container: v.Get("container"),
		To:        now,
		Step:      defaultMetricsStep,
	}
	if t := v.Get("types"); t != "" {
		for _, name := range strings.Split(t, ",") {
			mt := model.MetricType(strings.TrimSpace(name))
			if !mt.Known() {
				names := make([]string, len(model.MetricTypes))
				for i, k := range model.MetricTypes {
					names[i] = string(k)
				}
				return q, "types", fmt.Errorf("unknown metric type %q (known: %s)", mt, strings.Join(names, ", "))
			}
			q.Types = append(q.Types, mt)
		}
	}
	var err error
	if t := v.Get("to"); t != "" {
		if q.To, err = parseTime(t); err != nil {
			return q, "to", err
		}
	}
	q.From = q.To.Add(-defaultMetricsSince)
	if t := v.Get("since"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return q, "since", fmt.Errorf("since %q: want a positive duration such as 30m", t)
		}
		q.From = q.To.Add(-d)
	}
	if t := v.Get("from"); t != "" {
		if q.From, err = parseTime(t); err != nil {
			return q, "from", err
		}
	}
	if !q.From.Before(q.To) {
		return q, "from", fmt.Errorf("from (%s) must be before to (%s)", q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if t := v.Get("step"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d < time.Second {
			return q, "step", fmt.Errorf("step %q: want a duration of at least 1s such as 15s", t)
		}
		q.Step = d
	}
	if n := q.To.Sub(q.From) / q.Step; n > maxMetricsPoints {
		return q, "step", fmt.Errorf("the range holds %d steps of %s, more than %d; use a larger step", n, q.Step, maxMetricsPoints)
	}
	switch a := v.Get("aggregate"); a {
	case "", "none":
	case "service":
		q.Aggregate = true
	default:
		return q, "aggregate", fmt.Errorf("aggregate %q: want service or none", a)
	}
	return q, "", nil
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(s string) (time.Time, error) {
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMilli(int64(secs * 1000)), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or Unix seconds", s)
	}
	return t, nil
}
