package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
)

// TestNodeClientSpeaksTheNodeAPI runs the controller's half of the node
// API against the collectors' half: samples with their cursor, a log query
// whose every filter arrives as it was sent, a live tail, the bearer token
// and the errors a collector answers.
func TestNodeClientSpeaksTheNodeAPI(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	held := heldSamples{
		recorded: []time.Time{t0, t0.Add(15 * time.Second)},
		samples: []model.Sample{
			{Ref: model.Ref{Project: "shop", Service: "web", Instance: "web-1", Container: "web"}, Type: model.MetricCPU, Time: t0, Value: 0.25},
			{Ref: model.Ref{Project: "shop", Service: "web", Instance: "web-2", Container: "web"}, Type: model.MetricCPU, Time: t0, Value: 0.5},
		},
	}
	logs := &fakeLogs{recs: []model.LogRecord{{Log: "one"}, {Log: "two"}}}
	var (
		mu     sync.Mutex
		tokens []string
	)
	h := newTestServer(t, Options{NodeSamples: held, Logs: logs}).Handler()
	collectorAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("Authorization"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer collectorAPI.Close()
	bare := httptest.NewServer(newTestServer(t, Options{}).Handler())
	defer bare.Close()
	node := NodeClient{Token: func() (string, error) { return "controller-token", nil }}
	ctx := context.Background()

	t.Run("samples after a cursor, and the next cursor", func(t *testing.T) {
		samples, next, err := node.Samples(ctx, collectorAPI.URL, time.Time{})
		if err != nil || len(samples) != 2 || !next.Equal(t0.Add(15*time.Second)) {
			t.Fatalf("first ask: %d samples, next %s, err %v; want 2 and %s", len(samples), next, err, t0.Add(15*time.Second))
		}
		samples, again, err := node.Samples(ctx, collectorAPI.URL, next)
		if err != nil || len(samples) != 0 || !again.Equal(next) {
			t.Errorf("nothing new: %d samples, next %s, err %v; want none and the same cursor", len(samples), again, err)
		}
	})
	t.Run("samples come back as recorded, to the millisecond, from either form", func(t *testing.T) {
		t1 := t0.Add(15*time.Second + 123456789*time.Nanosecond)
		recorded := []model.Sample{
			{Ref: model.Ref{Project: "shop", Service: "web", Instance: "web-1", Container: "web"}, Type: model.MetricCPU, Time: t0, Value: 0.25},
			{Ref: model.Ref{Project: "shop", Service: "db"}, Type: model.MetricVolumeUsed, Volume: "data-db-0", Time: t0, Value: 920},
			{Ref: model.Ref{Project: "shop", Service: "web", Instance: "web-1", Container: "web"}, Type: model.MetricCPU, Time: t1, Value: 0.125},
			{Ref: model.Ref{Project: "shop", Service: "db"}, Type: model.MetricVolumeUsed, Volume: "data-db-1", Time: t1, Value: 1e12},
		}
		want := map[string]bool{}
		for _, s := range recorded {
			s.Time = s.Time.Truncate(time.Millisecond)
			want[fmt.Sprint(s)] = true
		}
		for _, tc := range []struct {
			name   string
			series bool
		}{{"series (a collector of this version)", true}, {"one by one (an older collector)", false}} {
			asked := ""
			old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				asked = r.URL.Query().Get("form")
				WriteNodeSamples(w, "node-a", recorded, t1, tc.series)
			}))
			samples, next, err := node.Samples(ctx, old.URL, time.Time{})
			old.Close()
			got := map[string]bool{}
			for _, s := range samples {
				got[fmt.Sprint(s)] = true
			}
			if err != nil || !maps.Equal(got, want) || len(samples) != len(recorded) || !next.Equal(t1) || asked != "series" {
				t.Errorf("%s: samples %v, next %s, err %v, asked form %q; want %v, next %s, form series", tc.name, samples, next, err, asked, recorded, t1)
			}
		}
	})
	t.Run("a log query arrives with every filter", func(t *testing.T) {
		q := collector.Query{
			Project: "shop", Service: "web", Container: "web",
			From: t0, To: t0.Add(time.Hour), Limit: 50, Direction: collector.Forward,
			TextIncludes: "GET", TextNotIncludes: "healthz",
			RegexIncludes: regexp.MustCompile(`status=5\d\d`), RegexNotIncludes: regexp.MustCompile(`^#`),
		}
		recs, err := node.Logs(ctx, collectorAPI.URL, q)
		if err != nil || len(recs) != 2 {
			t.Fatalf("%d lines, err %v; want 2", len(recs), err)
		}
		got := logs.got
		if got.RegexIncludes.String() != q.RegexIncludes.String() || got.RegexNotIncludes.String() != q.RegexNotIncludes.String() {
			t.Errorf("regexes arrived as %v and %v", got.RegexIncludes, got.RegexNotIncludes)
		}
		got.RegexIncludes, got.RegexNotIncludes, q.RegexIncludes, q.RegexNotIncludes = nil, nil, nil, nil
		if !got.From.Equal(q.From) || !got.To.Equal(q.To) {
			t.Errorf("range arrived as %s..%s, want %s..%s", got.From, got.To, q.From, q.To)
		}
		got.From, got.To, q.From, q.To = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != q {
			t.Errorf("query arrived as %+v, want %+v", got, q)
		}
	})
	t.Run("a live tail sends every line", func(t *testing.T) {
		var lines []string
		err := node.TailLogs(ctx, collectorAPI.URL, collector.Query{Project: "shop", Service: "web"}, func(r model.LogRecord) error {
			lines = append(lines, r.Log)
			return nil
		})
		if err != nil || !slices.Equal(lines, []string{"one", "two"}) {
			t.Errorf("lines %q, err %v", lines, err)
		}
	})
	t.Run("every request carries the token", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		for _, tok := range tokens {
			if tok != "Bearer controller-token" {
				t.Errorf("Authorization %q", tok)
			}
		}
	})
	t.Run("what a collector refuses is a NodeAPIError with its message", func(t *testing.T) {
		_, _, err := node.Samples(ctx, bare.URL, time.Time{})
		var apiErr *NodeAPIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || apiErr.Message != "node samples are served by `opshub collector` only" {
			t.Errorf("err = %v", err)
		}
		err = node.TailLogs(ctx, bare.URL, collector.Query{Project: "shop", Service: "web"}, func(model.LogRecord) error { return nil })
		if !errors.As(err, &apiErr) || apiErr.Path != "/api/v1/logs/tail" {
			t.Errorf("tail: err = %v", err)
		}
	})
}
