package loki

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// newFromYAML builds the destination as the sinks machinery does, from the
// sink's raw keys.
func newFromYAML(t *testing.T, encoding, raw string) *Destination {
	return plugintest.NewSink(t, Plugin, sinks.Spec{Name: "test", Type: "loki", Encoding: encoding}, raw).(*Destination)
}

func decodePush(t *testing.T, r *http.Request) push.PushRequest {
	t.Helper()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Error(err)
	}
	pb, err := snappy.Decode(nil, body)
	if err != nil {
		t.Errorf("body is not snappy: %v", err)
	}
	var req push.PushRequest
	if err := req.Unmarshal(pb); err != nil {
		t.Errorf("body is not a loki PushRequest: %v", err)
	}
	return req
}

var t0 = time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)

func record(sec int, service, stream, line string) model.LogRecord {
	return model.LogRecord{
		Time:   t0.Add(time.Duration(sec) * time.Second),
		Ref:    model.Ref{Project: "demo", Service: service, Instance: service + "-7f9c-1", Container: service},
		Stream: stream,
		Log:    line,
		Labels: model.Labels{"app.kubernetes.io/name": service, "team": "core"},
	}
}

func TestDeliverGroupsRecordsIntoBoundedStreams(t *testing.T) {
	var got push.PushRequest
	var header http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header = r.Header.Clone()
		got = decodePush(t, r)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := newFromYAML(t, "", `
url: `+srv.URL+`/loki/api/v1/push
tenantID: team-a
labels: {cluster: eu1}
labelKeys: [team]
`)
	records := []model.LogRecord{
		record(3, "web", "stdout", "third"),
		record(1, "web", "stdout", "first"),
		record(2, "web", "stderr", "oops"),
		record(2, "web", "stdout", "second"),
		record(1, "api", "stdout", "api line"),
	}
	records[4].Truncated = true
	if err := d.Deliver(context.Background(), records); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if ct := header.Get("Content-Type"); ct != "application/x-protobuf" {
		t.Errorf("Content-Type = %q", ct)
	}
	if org := header.Get("X-Scope-OrgID"); org != "team-a" {
		t.Errorf("X-Scope-OrgID = %q, want team-a", org)
	}
	want := map[string][]string{
		`{cluster="eu1",container="web",project="demo",service="web",stream="stdout",team="core"}`: {"first", "second", "third"},
		`{cluster="eu1",container="web",project="demo",service="web",stream="stderr",team="core"}`: {"oops"},
		`{cluster="eu1",container="api",project="demo",service="api",stream="stdout",team="core"}`: {"api line"},
	}
	if len(got.Streams) != len(want) {
		t.Fatalf("got %d streams, want %d: %+v", len(got.Streams), len(want), got.Streams)
	}
	for _, s := range got.Streams {
		lines, ok := want[s.Labels]
		if !ok {
			t.Errorf("unexpected stream %s", s.Labels)
			continue
		}
		var gotLines []string
		for _, e := range s.Entries {
			gotLines = append(gotLines, e.Line)
		}
		if strings.Join(gotLines, "|") != strings.Join(lines, "|") {
			t.Errorf("stream %s: lines %q, want %q (time order)", s.Labels, gotLines, lines)
		}
	}
	// Everything outside the stream labels travels as structured metadata.
	for _, s := range got.Streams {
		if !strings.Contains(s.Labels, `service="api"`) {
			continue
		}
		md := map[string]string{}
		for _, l := range s.Entries[0].StructuredMetadata {
			md[l.Name] = l.Value
		}
		wantMD := map[string]string{"instance": "api-7f9c-1", "app_kubernetes_io_name": "api", "truncated": "true"}
		for k, v := range wantMD {
			if md[k] != v {
				t.Errorf("structured metadata %s = %q, want %q (all: %v)", k, md[k], v, md)
			}
		}
		if _, ok := md["team"]; ok {
			t.Errorf("promoted label team also sent as structured metadata")
		}
	}
}

func TestDeliverJSONEncodingSendsTheRecord(t *testing.T) {
	var got push.PushRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = decodePush(t, r)
	}))
	defer srv.Close()
	d := newFromYAML(t, "json", "url: "+srv.URL)
	if err := d.Deliver(context.Background(), []model.LogRecord{record(1, "web", "stdout", "hello")}); err != nil {
		t.Fatal(err)
	}
	line := got.Streams[0].Entries[0].Line
	if !strings.HasPrefix(line, `{"ts":"2026-11-24T04:00:01Z","project":"demo"`) || !strings.Contains(line, `"log":"hello"`) {
		t.Errorf("json line = %s", line)
	}
}

func TestDeliverClassifiesAnswers(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		header         map[string]string
		wantRetryable  bool
		wantRetryAfter time.Duration
		wantErr        bool
	}{
		{name: "accepted", status: http.StatusNoContent},
		{name: "rate limited with Retry-After", status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "2"}, wantErr: true, wantRetryable: true, wantRetryAfter: 2 * time.Second},
		{name: "server error", status: http.StatusInternalServerError, wantErr: true, wantRetryable: true},
		{name: "unavailable with a date", status: http.StatusServiceUnavailable, header: map[string]string{"Retry-After": t0.Add(30 * time.Second).Format(http.TimeFormat)}, wantErr: true, wantRetryable: true, wantRetryAfter: 30 * time.Second},
		{name: "timeout", status: http.StatusRequestTimeout, wantErr: true, wantRetryable: true},
		{name: "entry too old is refused for good", status: http.StatusBadRequest, wantErr: true},
		{name: "bad tenant is refused for good", status: http.StatusUnauthorized, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := sinktest.Answering(t, tt.status, tt.header, "entry too far behind")
			d := newFromYAML(t, "", "url: "+srv.URL)
			d.Now = func() time.Time { return t0 }
			err := d.Deliver(context.Background(), []model.LogRecord{record(1, "web", "stdout", "x")})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Deliver = %v, want error %v", err, tt.wantErr)
			}
			var re *sinks.RetryableError
			if errors.As(err, &re) != tt.wantRetryable {
				t.Fatalf("Deliver = %v (%T), want retryable %v", err, err, tt.wantRetryable)
			}
			if re != nil && re.RetryAfter != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %s, want %s", re.RetryAfter, tt.wantRetryAfter)
			}
			if err != nil && !strings.Contains(err.Error(), "entry too far behind") {
				t.Errorf("error %q does not quote the server's reason", err)
			}
		})
	}
}

func TestDeliverNetworkFailureIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	d := newFromYAML(t, "", "url: "+url)
	err := d.Deliver(context.Background(), []model.LogRecord{record(1, "web", "stdout", "x")})
	if !sinks.IsRetryable(err) {
		t.Fatalf("Deliver to a closed port = %v, want retryable", err)
	}
}

func TestSettingsRefuseBadKeys(t *testing.T) {
	plugintest.CheckRefusals(t, Plugin.Settings, []plugintest.Refusal{
		{Name: "not a url", Keys: "url: ftp://x", Want: "url"},
		{Name: "bad static label", Keys: "url: http://x\nlabels: {\"a-b\": c}", Want: `"a-b" is not a valid Loki label name`},
		{Name: "reserved label", Keys: "url: http://x\nlabels: {service: c}", Want: "labels.service: is set by opshub"},
	})
}
