package datadog

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// intake behaves like Datadog's logs intake v2: it checks the API key,
// the content type, the content encoding (gzip or none) and the documented
// limits, which apply to the uncompressed payload, and answers 202, 400,
// 403, 413, or what the test scripted for a given request.
type intake struct {
	t       *testing.T
	mu      sync.Mutex
	calls   int
	script  map[int]func(w http.ResponseWriter) // by request number, from 1
	got     [][]entry                           // accepted payloads
	gzipped []bool                              // per request: whether its body was gzipped
}

func (in *intake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.calls++
	if r.URL.Path != "/api/v2/logs" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("DD-API-KEY") != "secret-key" {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"errors":[{"status":"403","title":"Forbidden","detail":"API key is invalid"}]}`)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"errors":[{"status":"400","detail":"content type %s"}]}`, ct)
		return
	}
	var reader io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "":
		in.gzipped = append(in.gzipped, false)
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"errors":[{"status":"400","detail":"gzip: %v"}]}`, err)
			return
		}
		reader = zr
		in.gzipped = append(in.gzipped, true)
	default:
		w.WriteHeader(http.StatusUnsupportedMediaType)
		fmt.Fprintf(w, `{"errors":[{"status":"415","detail":"content encoding %s"}]}`, enc)
		return
	}
	body, err := io.ReadAll(reader)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"errors":[{"status":"400","detail":"read body: %v"}]}`, err)
		return
	}
	if len(body) > 5_000_000 {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, `{"errors":[{"status":"413","title":"Payload Too Large"}]}`)
		return
	}
	var logs []json.RawMessage
	if err := json.Unmarshal(body, &logs); err != nil || len(logs) > 1000 {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":[{"status":"400","title":"Bad Request"}]}`)
		return
	}
	for _, l := range logs {
		if len(l) > 1_000_000 {
			in.t.Errorf("a log of %d bytes is over the 1 MB limit", len(l))
		}
	}
	if f := in.script[in.calls]; f != nil {
		f(w)
		return
	}
	var entries []entry
	if err := json.Unmarshal(body, &entries); err != nil {
		in.t.Errorf("payload: %v", err)
	}
	in.got = append(in.got, entries)
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "{}")
}

func (in *intake) encodings() []bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]bool(nil), in.gzipped...)
}

func (in *intake) sizes() []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	var s []int
	for _, p := range in.got {
		s = append(s, len(p))
	}
	return s
}

func newFromYAML(t *testing.T, encoding, raw string) *Destination {
	return plugintest.NewSink(t, Plugin, sinks.Spec{Name: "dd", Type: "datadog", Encoding: encoding}, raw).(*Destination)
}

func startIntake(t *testing.T) (*intake, string) {
	in := &intake{t: t, script: map[int]func(http.ResponseWriter){}}
	srv := httptest.NewServer(in)
	t.Cleanup(srv.Close)
	return in, srv.URL + "/api/v2/logs"
}

var t0 = time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)

func records(n, lineBytes int) []model.LogRecord {
	out := make([]model.LogRecord, n)
	for i := range out {
		line := fmt.Sprintf("line %06d ", i)
		out[i] = model.LogRecord{
			Time:   t0.Add(time.Duration(i) * time.Millisecond),
			Ref:    model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "app"},
			Stream: "stdout",
			Log:    line + strings.Repeat("x", max(lineBytes-len(line), 0)),
		}
	}
	return out
}

func TestDeliverMapsRecordsToReservedAttributes(t *testing.T) {
	in, url := startIntake(t)
	d := newFromYAML(t, "", "apiKey: secret-key\nurl: "+url+"\nsource: kubernetes\nhostname: node-1\ntags: [env:prod]")
	r := records(1, 0)[0]
	r.Stream, r.Log, r.Labels = "stderr", "panic: boom", model.Labels{"team": "core", "app": "web"}
	if err := d.Deliver(context.Background(), []model.LogRecord{r}); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	want := entry{
		Message: "panic: boom", Timestamp: t0.UnixMilli(), Status: "error", Service: "web", Source: "kubernetes", Hostname: "node-1",
		Tags: "env:prod,project:demo,instance:web-1,container:app,stream:stderr,app:web,team:core",
	}
	if len(in.got) != 1 || len(in.got[0]) != 1 || in.got[0][0] != want {
		t.Fatalf("intake got %+v, want %+v", in.got, want)
	}
}

// TestDeliverGzipsPayloads: requests are gzipped by default, with
// Content-Encoding: gzip, and sent plain with compression: none; the intake
// reads the same logs either way.
func TestDeliverGzipsPayloads(t *testing.T) {
	for _, tt := range []struct {
		compression string
		wantGzipped bool
	}{{"", true}, {"gzip", true}, {"none", false}} {
		t.Run("compression "+tt.compression, func(t *testing.T) {
			in, url := startIntake(t)
			raw := "apiKey: secret-key\nurl: " + url
			if tt.compression != "" {
				raw += "\ncompression: " + tt.compression
			}
			d := newFromYAML(t, "", raw)
			if err := d.Deliver(context.Background(), records(1500, 200)); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			if got := in.encodings(); !reflect.DeepEqual(got, []bool{tt.wantGzipped, tt.wantGzipped}) {
				t.Errorf("requests gzipped: %v, want two requests gzipped=%v", got, tt.wantGzipped)
			}
			if got := in.sizes(); !reflect.DeepEqual(got, []int{1000, 500}) {
				t.Errorf("requests carried %v logs, want [1000 500]", got)
			}
		})
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("apiKey: k\ncompression: zstd"), &doc); err != nil {
		t.Fatal(err)
	}
	if err := plugintest.DecodeErr(Plugin.Settings(), doc.Content[0]); err == nil || !strings.Contains(err.Error(), "compression") {
		t.Errorf("compression: zstd accepted: %v", err)
	}
}

func TestDeliverKeepsToTheIntakeLimits(t *testing.T) {
	tests := []struct {
		name      string
		records   []model.LogRecord
		wantSizes []int
	}{
		{name: "1000 logs per request", records: records(2500, 10), wantSizes: []int{1000, 1000, 500}},
		{name: "5 MB per request", records: records(6, 900_000), wantSizes: []int{5, 1}},
		{name: "a log over 1 MB is cut", records: records(1, 1_200_000), wantSizes: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, url := startIntake(t)
			d := newFromYAML(t, "", "apiKey: secret-key\nurl: "+url)
			if err := d.Deliver(context.Background(), tt.records); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			if got := in.sizes(); !reflect.DeepEqual(got, tt.wantSizes) {
				t.Fatalf("requests carried %v logs, want %v", got, tt.wantSizes)
			}
			i := 0
			for _, p := range in.got {
				for _, e := range p {
					prefix := fmt.Sprintf("line %06d ", i)
					if !strings.HasPrefix(e.Message, prefix) {
						t.Fatalf("log %d starts %q, want %q (order kept)", i, e.Message[:20], prefix)
					}
					if len(tt.records[i].Log) > 1_000_000 && !strings.HasSuffix(e.Message, truncatedMarker) {
						t.Errorf("log %d was cut without the marker", i)
					}
					i++
				}
			}
		})
	}
}

func TestDeliverReportsWhatTheIntakeRefused(t *testing.T) {
	rateLimited := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	}
	badRequest := func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"errors":[{"status":"400","title":"Bad Request"}]}`)
	}
	unavailable := func(w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) }
	tests := []struct {
		name        string
		apiKey      string
		n           int
		script      map[int]func(http.ResponseWriter)
		wantErr     string // "", "permanent", "retryable", "partial"
		wantRetry   []int
		wantReject  []int
		wantAfter   time.Duration
		wantArrived int
	}{
		{name: "accepted", apiKey: "secret-key", n: 10, wantArrived: 10},
		{name: "wrong API key is refused for good", apiKey: "wrong", n: 10, wantErr: "permanent"},
		{name: "rate limited single request", apiKey: "secret-key", n: 10, script: map[int]func(http.ResponseWriter){1: rateLimited}, wantErr: "retryable", wantAfter: 2 * time.Second},
		{name: "unavailable single request", apiKey: "secret-key", n: 10, script: map[int]func(http.ResponseWriter){1: unavailable}, wantErr: "retryable"},
		{
			name: "rate limited second request: it and the rest retried, none sent out of order", apiKey: "secret-key", n: 2500,
			script: map[int]func(http.ResponseWriter){2: rateLimited}, wantErr: "partial",
			wantRetry: seq(1000, 2500), wantAfter: 2 * time.Second, wantArrived: 1000,
		},
		{
			name: "refused first request does not block the next", apiKey: "secret-key", n: 1500,
			script: map[int]func(http.ResponseWriter){1: badRequest}, wantErr: "partial",
			wantReject: seq(0, 1000), wantArrived: 500,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, url := startIntake(t)
			in.script = tt.script
			d := newFromYAML(t, "", "apiKey: "+tt.apiKey+"\nurl: "+url)
			err := d.Deliver(context.Background(), records(tt.n, 10))
			var partial *sinks.PartialError
			var retryable *sinks.RetryableError
			switch tt.wantErr {
			case "":
				if err != nil {
					t.Fatalf("Deliver = %v", err)
				}
			case "permanent":
				if err == nil || sinks.IsRetryable(err) || errors.As(err, &partial) {
					t.Fatalf("Deliver = %v, want a permanent error", err)
				}
			case "retryable":
				if !errors.As(err, &retryable) || retryable.RetryAfter != tt.wantAfter {
					t.Fatalf("Deliver = %v, want retryable after %s", err, tt.wantAfter)
				}
			case "partial":
				if !errors.As(err, &partial) {
					t.Fatalf("Deliver = %v, want a partial error", err)
				}
				if !reflect.DeepEqual(partial.Retry, tt.wantRetry) || partial.RetryAfter != tt.wantAfter {
					t.Errorf("retry %d records after %s, want %d after %s", len(partial.Retry), partial.RetryAfter, len(tt.wantRetry), tt.wantAfter)
				}
				var rejected []int
				for _, i := range seq(0, tt.n) {
					if _, ok := partial.Rejected[i]; ok {
						rejected = append(rejected, i)
					}
				}
				if !reflect.DeepEqual(rejected, tt.wantReject) {
					t.Errorf("rejected %d records, want %d", len(rejected), len(tt.wantReject))
				}
			}
			arrived := 0
			for _, s := range in.sizes() {
				arrived += s
			}
			if arrived != tt.wantArrived {
				t.Errorf("%d logs arrived, want %d", arrived, tt.wantArrived)
			}
		})
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return s
}

func TestSiteSelectsTheIntake(t *testing.T) {
	tests := []struct{ site, want, wantErr string }{
		{site: "", want: "https://http-intake.logs.datadoghq.com/api/v2/logs"},
		{site: "datadoghq.eu", want: "https://http-intake.logs.datadoghq.eu/api/v2/logs"},
		{site: "EU", want: "https://http-intake.logs.datadoghq.eu/api/v2/logs"},
		{site: "us5", want: "https://http-intake.logs.us5.datadoghq.com/api/v2/logs"},
		{site: "ap1.datadoghq.com", want: "https://http-intake.logs.ap1.datadoghq.com/api/v2/logs"},
		{site: "gov", want: "https://http-intake.logs.ddog-gov.com/api/v2/logs"},
		{site: "mars", wantErr: "neither a Datadog site"},
	}
	for _, tt := range tests {
		t.Run(tt.site, func(t *testing.T) {
			got, err := intakeURL(tt.site)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("intakeURL(%q) = %q, %v; want error %q", tt.site, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("intakeURL(%q) = %q, %v; want %q", tt.site, got, err, tt.want)
			}
		})
	}
}

// TestDeliverEscapesWhatJSONMust: quotes, backslashes, control characters
// and invalid UTF-8 in the line and the tags arrive as the intake decodes
// them.
func TestDeliverEscapesWhatJSONMust(t *testing.T) {
	in, url := startIntake(t)
	d := newFromYAML(t, "", "apiKey: secret-key\nurl: "+url+"\nhostname: \"node \\\"1\\\"\"")
	r := records(1, 0)[0]
	r.Log = "say \"hi\"\n\t<b>\\ \x01 \xff"
	r.Labels = model.Labels{`we"ird`: `a\b,c`}
	if err := d.Deliver(context.Background(), []model.LogRecord{r}); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if len(in.got) != 1 || len(in.got[0]) != 1 {
		t.Fatalf("intake got %+v", in.got)
	}
	got := in.got[0][0]
	if want := "say \"hi\"\n\t<b>\\ \x01 \uFFFD"; got.Message != want {
		t.Errorf("message %q, want %q", got.Message, want)
	}
	if want := `project:demo,instance:web-1,container:app,stream:stdout,we"ird:a\b_c`; got.Tags != want {
		t.Errorf("ddtags %q, want %q", got.Tags, want)
	}
	if got.Hostname != `node "1"` {
		t.Errorf("hostname %q", got.Hostname)
	}
}

func TestSettingsRefuseBadKeys(t *testing.T) {
	plugintest.CheckRefusals(t, Plugin.Settings, []plugintest.Refusal{
		{Name: "no apiKey", Keys: "site: eu", Want: "apiKey: is required"},
		{Name: "unknown site", Keys: "apiKey: k\nsite: mars", Want: "neither a Datadog site"},
		{Name: "negative timeout", Keys: "apiKey: k\ntimeout: -1s", Want: "timeout: must not be negative"},
	})
}
