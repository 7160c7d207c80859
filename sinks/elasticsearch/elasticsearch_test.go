package elasticsearch

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

func newFromYAML(t *testing.T, raw string) *Destination {
	return plugintest.NewSink(t, Plugin, sinks.Spec{Name: "test", Type: "elasticsearch"}, raw).(*Destination)
}

var t0 = time.Date(2026, 11, 24, 23, 59, 59, 500_000_000, time.UTC)

func record(sec int, line string) model.LogRecord {
	return model.LogRecord{
		Time:   t0.Add(time.Duration(sec) * time.Second),
		Ref:    model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"},
		Stream: "stdout",
		Log:    line,
		Labels: model.Labels{"team": "core"},
	}
}

// readBody returns the request body, gunzipped when it says so.
func readBody(t *testing.T, r *http.Request) string {
	t.Helper()
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			t.Errorf("gzip: %v", err)
			return ""
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	return string(b)
}

func TestDeliverWritesBulkActionsWithDatedIndexes(t *testing.T) {
	tests := []struct {
		name, raw, wantPath, wantEncoding string
		wantLines                         []string
	}{
		{
			name:     "default index, one per UTC day",
			raw:      "url: URL",
			wantPath: "/_bulk",
			wantLines: []string{
				`{"create":{"_index":"opshub-2026.11.24"}}`,
				`{"@timestamp":"2026-11-24T23:59:59.5Z","ts":"2026-11-24T23:59:59.5Z","project":"demo","service":"web","instance":"web-1","container":"web","stream":"stdout","log":"before \"midnight\"","labels":{"team":"core"}}`,
				`{"create":{"_index":"opshub-2026.11.25"}}`,
				`{"@timestamp":"2026-11-25T00:00:00.5Z","ts":"2026-11-25T00:00:00.5Z","project":"demo","service":"web","instance":"web-1","container":"web","stream":"stdout","log":"after midnight","labels":{"team":"core"}}`,
			},
		},
		{
			name:         "hourly index, pipeline, gzip, base path kept",
			raw:          "url: URL/es/?x=1\nindex: logs-%Y%m%d-%H%%\npipeline: parse\ncompression: gzip",
			wantPath:     "/es/_bulk",
			wantEncoding: "gzip",
			wantLines: []string{
				`{"create":{"_index":"logs-20261124-23%","pipeline":"parse"}}`,
				`{"@timestamp":"2026-11-24T23:59:59.5Z","ts":"2026-11-24T23:59:59.5Z","project":"demo","service":"web","instance":"web-1","container":"web","stream":"stdout","log":"before \"midnight\"","labels":{"team":"core"}}`,
				`{"create":{"_index":"logs-20261125-00%","pipeline":"parse"}}`,
				`{"@timestamp":"2026-11-25T00:00:00.5Z","ts":"2026-11-25T00:00:00.5Z","project":"demo","service":"web","instance":"web-1","container":"web","stream":"stdout","log":"after midnight","labels":{"team":"core"}}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var gotPath, gotEncoding, gotType, body string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotEncoding, gotType = r.URL.Path, r.Header.Get("Content-Encoding"), r.Header.Get("Content-Type")
				body = readBody(t, r)
				io.WriteString(w, `{"took":3,"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}}]}`)
			}))
			defer srv.Close()
			d := newFromYAML(t, strings.ReplaceAll(tt.raw, "URL", srv.URL))
			err := d.Deliver(context.Background(), []model.LogRecord{record(0, `before "midnight"`), record(1, "after midnight")})
			if err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			if gotPath != tt.wantPath || gotEncoding != tt.wantEncoding || gotType != "application/x-ndjson" {
				t.Errorf("path %q encoding %q type %q, want %q %q application/x-ndjson", gotPath, gotEncoding, gotType, tt.wantPath, tt.wantEncoding)
			}
			if !strings.HasSuffix(body, "\n") {
				t.Errorf("bulk body must end with a newline")
			}
			var lines []string
			sc := bufio.NewScanner(strings.NewReader(body))
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			if !reflect.DeepEqual(lines, tt.wantLines) {
				t.Errorf("body:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(tt.wantLines, "\n"))
			}
		})
	}
}

func TestDeliverSplitsPerDocumentErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
		answer string
		want   error
	}{
		{
			name:   "every document taken",
			status: 200,
			answer: `{"errors":false,"items":[{"create":{"status":201}},{"create":{"status":201}},{"create":{"status":201}},{"create":{"status":201}}]}`,
		},
		{
			name:   "rejected by a full queue, refused by the mapping, failed on a shard",
			status: 200,
			answer: `{"errors":true,"items":[
				{"create":{"status":201}},
				{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
				{"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [labels.team]"}}},
				{"create":{"status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}}]}`,
			want: &sinks.PartialError{Retry: []int{1, 3}, Rejected: map[int]string{2: "HTTP 400 mapper_parsing_exception: failed to parse field [labels.team]"}},
		},
		{
			name:   "whole request rate limited",
			status: 429, header: map[string]string{"Retry-After": "2"},
			answer: `{"error":"too many requests"}`,
			want:   &sinks.RetryableError{RetryAfter: 2 * time.Second},
		},
		{
			name:   "request too large is refused for good",
			status: 413,
			want:   &sinks.StatusError{Code: 413},
		},
		{
			name:   "an answer that is not a bulk response is retried",
			status: 200,
			answer: `<html>proxy</html>`,
			want:   &sinks.RetryableError{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sinktest.Answering(t, tt.status, tt.header, tt.answer)
			d := newFromYAML(t, "url: "+srv.URL)
			err := d.Deliver(context.Background(), []model.LogRecord{record(0, "a"), record(1, "b"), record(2, "c"), record(3, "d")})
			switch want := tt.want.(type) {
			case nil:
				if err != nil {
					t.Fatalf("Deliver = %v, want nil", err)
				}
			case *sinks.PartialError:
				var got *sinks.PartialError
				if !errors.As(err, &got) || !reflect.DeepEqual(got.Retry, want.Retry) || !reflect.DeepEqual(got.Rejected, want.Rejected) {
					t.Fatalf("Deliver = %#v, want %#v", err, want)
				}
			case *sinks.RetryableError:
				var got *sinks.RetryableError
				if !errors.As(err, &got) || got.RetryAfter != want.RetryAfter {
					t.Fatalf("Deliver = %v, want retryable after %s", err, want.RetryAfter)
				}
			case *sinks.StatusError:
				var got *sinks.StatusError
				if !errors.As(err, &got) || got.Code != want.Code || sinks.IsRetryable(err) {
					t.Fatalf("Deliver = %v, want a permanent HTTP %d", err, want.Code)
				}
			}
		})
	}
}

func TestSettingsRefuseBadKeys(t *testing.T) {
	plugintest.CheckRefusals(t, Plugin.Settings, []plugintest.Refusal{
		{Name: "unknown date verb", Keys: "url: http://x\nindex: logs-%j", Want: "unknown %j"},
		{Name: "uppercase index", Keys: "url: http://x\nindex: Logs", Want: "lowercase"},
		{Name: "no url", Keys: "index: logs", Want: "url"},
	})
}
