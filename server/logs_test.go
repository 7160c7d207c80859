package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
)

// fakeLogs records the query it was given and answers fixed records.
type fakeLogs struct {
	got  collector.Query
	recs []model.LogRecord
}

func (f *fakeLogs) Query(_ context.Context, q collector.Query) ([]model.LogRecord, error) {
	f.got = q
	if q.Service == "missing" {
		return nil, fmt.Errorf("logs of demo/missing: %w", collector.ErrNoLogs)
	}
	return f.recs, nil
}

func (f *fakeLogs) Follow(ctx context.Context, q collector.Query, send func(model.LogRecord) error) error {
	f.got = q
	for _, r := range f.recs {
		if err := send(r); err != nil {
			return err
		}
	}
	return nil // the stream ends, as when the reader stops
}

func TestLogQueryParameters(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		query string
		code  int
		field string
		check func(t *testing.T, q collector.Query)
	}{
		{"every filter", "project=demo&service=web&container=web-1&from=2026-11-24T10:00:00Z&to=2026-11-24T11:00:00Z&limit=5&direction=forward&textIncludes=GET&textNotIncludes=health&regexIncludes=5..&regexNotIncludes=^x", 200, "", func(t *testing.T, q collector.Query) {
			if q.Container != "web-1" || !q.From.Equal(ts) || !q.To.Equal(ts.Add(time.Hour)) || q.Limit != 5 || q.Direction != collector.Forward ||
				q.TextIncludes != "GET" || q.TextNotIncludes != "health" || q.RegexIncludes.String() != "5.." || q.RegexNotIncludes.String() != "^x" {
				t.Errorf("query %+v", q)
			}
		}},
		{"since", "project=demo&service=web&since=5m", 200, "", func(t *testing.T, q collector.Query) {
			if d := time.Since(q.From); d < 5*time.Minute || d > 6*time.Minute {
				t.Errorf("from is %s ago, want 5m", d)
			}
		}},
		{"no project", "service=web", 400, "project", nil},
		{"no service", "project=demo", 400, "service", nil},
		{"bad from", "project=demo&service=web&from=yesterday", 400, "from", nil},
		{"bad since", "project=demo&service=web&since=-5m", 400, "since", nil},
		{"bad limit", "project=demo&service=web&limit=0", 400, "limit", nil},
		{"bad direction", "project=demo&service=web&direction=up", 400, "direction", nil},
		{"bad regex", "project=demo&service=web&regexIncludes=(", 400, "regexIncludes", nil},
		{"unknown service", "project=demo&service=missing", 404, "service", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &fakeLogs{recs: []model.LogRecord{{Time: ts, Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}, Stream: "stdout", Log: "GET / 200"}}}
			s := newTestServer(t, Options{Logs: logs})
			rec := do(t, s.Handler(), http.MethodGet, "/api/v1/logs?"+tt.query, "127.0.0.1:1234", "")
			if rec.Code != tt.code {
				t.Fatalf("code %d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			if tt.code != 200 {
				var e apiError
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Field != tt.field {
					t.Errorf("error body %s, want field %q", rec.Body, tt.field)
				}
				return
			}
			var got []map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"ts", "container", "stream", "log"} {
				if _, ok := got[0][key]; !ok {
					t.Errorf("record %v lacks %q", got[0], key)
				}
			}
			if tt.check != nil {
				tt.check(t, logs.got)
			}
		})
	}
}

func TestLogTailIsServerSentEvents(t *testing.T) {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	logs := &fakeLogs{recs: []model.LogRecord{
		{Time: ts, Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}, Stream: "stdout", Log: "one"},
		{Time: ts, Ref: model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}, Stream: "stderr", Log: "two"},
	}}
	s := newTestServer(t, Options{Logs: logs})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/logs/tail?project=demo&service=web&limit=10", nil)
	req.RemoteAddr = "127.0.0.1:1234"
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content type %q, want text/event-stream", ct)
	}
	var events []model.LogRecord
	for _, block := range strings.Split(strings.TrimSpace(rec.Body.String()), "\n\n") {
		data, ok := strings.CutPrefix(block, "data: ")
		if !ok {
			t.Fatalf("event %q is not a data event", block)
		}
		var r model.LogRecord
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			t.Fatal(err)
		}
		events = append(events, r)
	}
	if len(events) != 2 || events[0].Log != "one" || events[1].Log != "two" || events[1].Stream != "stderr" {
		t.Errorf("events %+v", events)
	}
	if logs.got.Limit != 10 {
		t.Errorf("limit %d, want 10", logs.got.Limit)
	}
}
