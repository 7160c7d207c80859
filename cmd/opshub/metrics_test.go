package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// fakeMetricsAPI answers the services and metrics endpoints with two web
// instances, and records the metric queries it got.
func fakeMetricsAPI(t *testing.T, queries *[]url.Values) *httptest.Server {
	t.Helper()
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	points := func(f func(i int) float64) []model.MetricPoint {
		var pts []model.MetricPoint
		for i := range 40 {
			pts = append(pts, model.MetricPoint{Time: start.Add(time.Duration(i) * 15 * time.Second), Value: f(i)})
		}
		return pts
	}
	series := []model.MetricSeries{
		{Type: model.MetricCPU, Unit: "cores", Project: "demo", Service: "web", Instance: "web-7f9c-0", Container: "web",
			Points: points(func(i int) float64 { return 0.01 * float64(i) })},
		{Type: model.MetricCPU, Unit: "cores", Project: "demo", Service: "web", Instance: "web-7f9c-1", Container: "web",
			Points: points(func(i int) float64 { return 0.5 })},
		{Type: model.MetricMemory, Unit: "bytes", Project: "demo", Service: "web", Instance: "web-7f9c-0", Container: "web",
			Points: points(func(i int) float64 { return float64(200<<20 + i*(1<<20)) })},
		{Type: model.MetricMemory, Unit: "bytes", Project: "demo", Service: "web", Instance: "web-7f9c-1", Container: "web",
			Points: points(func(i int) float64 { return float64(12 << 20) })},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/services", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"services": []model.Service{{Project: "demo", Name: "web"}}})
	})
	mux.HandleFunc("GET /api/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		*queries = append(*queries, r.URL.Query())
		_ = json.NewEncoder(w).Encode(map[string]any{"series": series})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestMetricsCommand(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		golden    string
		wantQuery url.Values
		wantErr   string
	}{
		{
			name: "table with a sparkline per series", args: []string{"metrics", "demo/web", "--since", "10m"},
			golden:    "metrics.golden",
			wantQuery: url.Values{"project": {"demo"}, "service": {"web"}, "types": {"cpu,memory"}, "since": {"10m0s"}},
		},
		{
			name: "a bare name is looked up, flags reach the query", args: []string{"metrics", "web", "--type", "cpu,network-rx", "--container", "web-7f9c-1", "--aggregate", "-o", "json"},
			wantQuery: url.Values{"project": {"demo"}, "service": {"web"}, "types": {"cpu,network-rx"}, "since": {"30m0s"},
				"container": {"web-7f9c-1"}, "aggregate": {"service"}},
		},
		{name: "unknown type is a usage error", args: []string{"metrics", "web", "--type", "cpu,gpu"}, wantCode: exitUsage, wantErr: `unknown metric type "gpu"`},
		{name: "unknown output is a usage error", args: []string{"metrics", "web", "-o", "yaml"}, wantCode: exitUsage, wantErr: "unknown output format"},
		{name: "service is required", args: []string{"metrics"}, wantCode: exitUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var queries []url.Values
			srv := fakeMetricsAPI(t, &queries)
			var out, errb bytes.Buffer
			code := execute(context.Background(), append(tc.args, "--server", srv.URL), &out, &errb)
			if code != tc.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tc.wantCode, errb.String())
			}
			if tc.wantErr != "" && !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("stderr %q does not say %q", errb.String(), tc.wantErr)
			}
			if tc.golden != "" {
				golden(t, tc.golden, out.Bytes())
			}
			if tc.wantQuery != nil {
				if len(queries) != 1 {
					t.Fatalf("%d metric queries, want 1", len(queries))
				}
				if got := queries[0]; got.Encode() != tc.wantQuery.Encode() {
					t.Errorf("query %s, want %s", got.Encode(), tc.wantQuery.Encode())
				}
			}
			if code == exitOK && tc.golden == "" {
				var body struct{ Series []model.MetricSeries }
				if err := json.Unmarshal(out.Bytes(), &body); err != nil || len(body.Series) != 4 {
					t.Errorf("json output: %v, %d series", err, len(body.Series))
				}
			}
		})
	}
}

func TestSparkline(t *testing.T) {
	pts := func(vs ...float64) []model.MetricPoint {
		out := make([]model.MetricPoint, len(vs))
		for i, v := range vs {
			out[i].Value = v
		}
		return out
	}
	tests := []struct {
		name string
		in   []model.MetricPoint
		want string
	}{
		{"rising", pts(0, 1, 2, 3, 4, 5, 6, 7), "▁▂▃▄▅▆▇█"},
		{"flat stays low", pts(5, 5, 5), "▁▁▁"},
		{"averaged into the width", pts(0, 0, 10, 10), "▁█"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			width := 30
			if tc.name == "averaged into the width" {
				width = 2
			}
			if got := sparkline(tc.in, width); got != tc.want {
				t.Errorf("sparkline = %q, want %q", got, tc.want)
			}
		})
	}
}
