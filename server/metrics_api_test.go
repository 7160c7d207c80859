package server

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// recordingMetrics answers every query with one series and remembers it.
type recordingMetrics struct{ got *MetricsQuery }

func (r recordingMetrics) QueryMetrics(q MetricsQuery) []model.MetricSeries {
	*r.got = q
	return []model.MetricSeries{{Type: model.MetricCPU, Unit: "cores", Project: "demo", Service: "web", Instance: "web-0", Container: "web",
		Points: []model.MetricPoint{{Time: time.Unix(1795946400, 0), Value: 0.5}}}}
}

func TestMetricsEndpoint(t *testing.T) {
	to := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		query     string
		wantCode  int
		wantField string
		check     func(t *testing.T, q MetricsQuery)
	}{
		{name: "defaults: last 30 minutes at 15s, every type", query: "to=" + to.Format(time.RFC3339), wantCode: 200,
			check: func(t *testing.T, q MetricsQuery) {
				if !q.From.Equal(to.Add(-30*time.Minute)) || !q.To.Equal(to) || q.Step != 15*time.Second || q.Types != nil || q.Aggregate {
					t.Errorf("query %+v", q)
				}
			}},
		{name: "filters, since, step and aggregation", query: fmt.Sprintf("project=demo&service=web&container=web-0&types=cpu,memory&since=10m&step=1m&aggregate=service&to=%d", to.Unix()), wantCode: 200,
			check: func(t *testing.T, q MetricsQuery) {
				if q.Project != "demo" || q.Service != "web" || q.Container != "web-0" || len(q.Types) != 2 || q.Types[1] != model.MetricMemory ||
					!q.From.Equal(to.Add(-10*time.Minute)) || q.Step != time.Minute || !q.Aggregate {
					t.Errorf("query %+v", q)
				}
			}},
		{name: "unknown type", query: "types=cpu,gpu", wantCode: 400, wantField: "types"},
		{name: "bad since", query: "since=ten", wantCode: 400, wantField: "since"},
		{name: "from after to", query: "from=2026-11-24T11:00:00Z&to=2026-11-24T10:00:00Z", wantCode: 400, wantField: "from"},
		{name: "too many steps", query: "since=720h&step=1s", wantCode: 400, wantField: "step"},
		{name: "bad aggregate", query: "aggregate=node", wantCode: 400, wantField: "aggregate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got MetricsQuery
			h := newTestServer(t, Options{Metrics: recordingMetrics{&got}}).Handler()
			rec := do(t, h, "GET", "/api/v1/metrics?"+tc.query, "127.0.0.1:5555", "")
			if rec.Code != tc.wantCode {
				t.Fatalf("code %d, want %d: %s", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantField != "" {
				var e apiError
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Field != tc.wantField {
					t.Errorf("error body %s, want field %q", rec.Body, tc.wantField)
				}
				return
			}
			var body struct{ Series []model.MetricSeries }
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Series) != 1 || body.Series[0].Points[0].Value != 0.5 {
				t.Errorf("body %s: %v", rec.Body, err)
			}
			tc.check(t, got)
		})
	}
}

func TestMetricsEndpointWithoutMetrics(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	if rec := do(t, h, "GET", "/api/v1/metrics", "127.0.0.1:5555", ""); rec.Code != 404 {
		t.Errorf("code %d without a metrics reader, want 404", rec.Code)
	}
}

func TestMetricPointJSON(t *testing.T) {
	b, err := json.Marshal(model.MetricPoint{Time: time.Unix(1795946400, 0), Value: 0.25})
	if err != nil || string(b) != "[1795946400,0.25]" {
		t.Fatalf("point as %s, %v; want [1795946400,0.25]", b, err)
	}
	var p model.MetricPoint
	if err := json.Unmarshal(b, &p); err != nil || p.Time.Unix() != 1795946400 || p.Value != 0.25 {
		t.Errorf("round trip %+v, %v", p, err)
	}
}
