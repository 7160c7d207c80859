package http

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

func spec(t *testing.T, encoding, raw string) sinks.Spec {
	t.Helper()
	return sinks.Spec{Name: "hook", Type: "http", Encoding: encoding, Settings: plugintest.Decode(t, Plugin.Settings(), raw)}
}

func records() []model.LogRecord {
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	ref := model.Ref{Project: "demo", Service: "web", Instance: "web-1", Container: "web"}
	return []model.LogRecord{
		{Time: ts, Ref: ref, Stream: "stdout", Log: "GET / 200"},
		{Time: ts.Add(time.Second), Ref: ref, Stream: "stderr", Log: "oops"},
	}
}

func TestBodyEncodings(t *testing.T) {
	a := `{"ts":"2026-11-24T10:00:00Z","project":"demo","service":"web","instance":"web-1","container":"web","stream":"stdout","log":"GET / 200"}`
	b := `{"ts":"2026-11-24T10:00:01Z","project":"demo","service":"web","instance":"web-1","container":"web","stream":"stderr","log":"oops"}`
	length := func(parts ...string) string {
		var out []byte
		for _, p := range parts {
			out = binary.BigEndian.AppendUint32(out, uint32(len(p)))
			out = append(out, p...)
		}
		return string(out)
	}
	tests := []struct {
		name, encoding, framing string
		contentType             string
		want                    string
	}{
		{"json with newlines is NDJSON", "json", "newline", "application/x-ndjson", a + "\n" + b + "\n"},
		{"json without framing is an array", "json", "none", "application/json", "[" + a + "," + b + "]"},
		{"json with lengths", "json", "length", "application/octet-stream", length(a, b)},
		{"text lines", "text", "newline", "text/plain; charset=utf-8", "2026-11-24T10:00:00Z stdout GET / 200\n2026-11-24T10:00:01Z stderr oops\n"},
		{"text with lengths", "text", "length", "application/octet-stream", length("2026-11-24T10:00:00Z stdout GET / 200", "2026-11-24T10:00:01Z stderr oops")},
	}
	for _, tt := range tests {
		for _, gz := range []bool{false, true} {
			name := tt.name
			if gz {
				name += ", gzipped"
			}
			t.Run(name, func(t *testing.T) {
				body, err := NewBody(tt.encoding, tt.framing, gz)
				if err != nil {
					t.Fatal(err)
				}
				if body.ContentType() != tt.contentType {
					t.Errorf("Content-Type %q, want %q", body.ContentType(), tt.contentType)
				}
				var buf bytes.Buffer
				if err := body.Encode(&buf, records()); err != nil {
					t.Fatal(err)
				}
				got := buf.Bytes()
				if gz {
					zr, err := gzip.NewReader(&buf)
					if err != nil {
						t.Fatal(err)
					}
					if got, err = io.ReadAll(zr); err != nil {
						t.Fatal(err)
					}
				}
				if string(got) != tt.want {
					t.Fatalf("body\n got %q\nwant %q", got, tt.want)
				}
			})
		}
	}
}

func TestDeliverSendsHeadersAndClassifiesAnswers(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		wantErr   bool
		retryable bool
	}{
		{"204 is delivered", http.StatusNoContent, false, false},
		{"503 is retried", http.StatusServiceUnavailable, true, true},
		{"400 is refused for good", http.StatusBadRequest, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			var body []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.Clone(context.Background())
				zr, err := gzip.NewReader(r.Body)
				if err == nil {
					body, _ = io.ReadAll(zr)
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			d, err := New(spec(t, "json", "{url: "+srv.URL+"/ingest, method: PUT, compression: gzip, auth: {bearer: {token: t0k}}}"))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			err = d.Deliver(context.Background(), records())
			if (err != nil) != tt.wantErr || sinks.IsRetryable(err) != tt.retryable {
				t.Fatalf("Deliver = %v; want error %v, retryable %v", err, tt.wantErr, tt.retryable)
			}
			if got.Method != http.MethodPut || got.URL.Path != "/ingest" || got.Header.Get("Authorization") != "Bearer t0k" ||
				got.Header.Get("Content-Encoding") != "gzip" || got.Header.Get("Content-Type") != "application/x-ndjson" {
				t.Errorf("request: %s %s %v", got.Method, got.URL.Path, got.Header)
			}
			if n := strings.Count(string(body), "\n"); n != 2 {
				t.Errorf("body has %d lines, want 2: %q", n, body)
			}
		})
	}
}

// handlerTransport serves requests in-process, so that a test in a
// synctest bubble has no network goroutines.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func isValidation(body []byte) bool {
	return bytes.Contains(body, []byte(sinks.ValidationLabel))
}

// TestRetryAfterDelaysTheNextAttempt: a 429 with Retry-After: 2 holds the
// next attempt back at least 2 s, although the back-off alone would retry
// after half a second.
func TestRetryAfterDelaysTheNextAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var attempts []time.Time
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if isValidation(body) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, time.Now())
			if len(attempts) == 1 {
				w.Header().Set("Retry-After", "2")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		sp := spec(t, "json", "{url: http://logs.invalid/}")
		d, err := New(sp)
		if err != nil {
			t.Fatal(err)
		}
		d.(*Sink).client.Transport = handlerTransport{h}
		r, err := sinks.NewRouter([]sinks.SinkConfig{{Spec: sp, Destination: d, Batch: sinks.BatchLimits{Timeout: time.Millisecond}}},
			sinks.Options{DataDir: t.TempDir(), Retry: sinks.RetryPolicy{Initial: 500 * time.Millisecond, Max: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		if err := r.Send(ctx, sinks.Batch{Records: records()}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(attempts) != 2 {
			t.Fatalf("%d attempts, want 2", len(attempts))
		}
		if gap := attempts[1].Sub(attempts[0]); gap < 2*time.Second {
			t.Fatalf("second attempt %s after the 429, want at least 2s", gap)
		}
		if st := r.Sinks()[0]; st.Sent != 2 || st.Retried != 2 {
			t.Errorf("status counts: %+v", st)
		}
	})
}

// TestRefusedBatchGoesToDeadLetterAndLaterLinesFlow: a 400 sends the batch to
// the dead-letter file with the reason; the lines after it still arrive.
func TestRefusedBatchGoesToDeadLetterAndLaterLinesFlow(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte("poison")) {
			http.Error(w, "cannot parse record", http.StatusBadRequest)
			return
		}
		if isValidation(body) {
			return
		}
		var rec model.LogRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, rec.Log)
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	sp := spec(t, "json", "{url: "+srv.URL+"}")
	d, err := New(sp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sinks.NewRouter([]sinks.SinkConfig{{Spec: sp, Destination: d, Batch: sinks.BatchLimits{MaxEvents: 1, Timeout: time.Millisecond}}},
		sinks.Options{DataDir: dir, Retry: sinks.RetryPolicy{Initial: time.Millisecond, Max: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	recs := append(records(), records()...)
	recs[1].Log = "poison pill"
	recs[2].Log, recs[3].Log = "after 1", "after 2"
	if err := r.Send(ctx, sinks.Batch{Records: recs}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of the 3 good lines arrived", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	if strings.Join(got, "|") != "GET / 200|after 1|after 2" {
		t.Fatalf("delivered %q", got)
	}
	mu.Unlock()
	data, err := os.ReadFile(filepath.Join(dir, "sinks", "hook", sinks.DeadLetterFile))
	if err != nil {
		t.Fatal(err)
	}
	var dl struct {
		Sink   string          `json:"sink"`
		Reason string          `json:"reason"`
		Record model.LogRecord `json:"record"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(data), &dl); err != nil {
		t.Fatalf("dead-letter file %q: %v", data, err)
	}
	if dl.Sink != "hook" || dl.Record.Log != "poison pill" || !strings.Contains(dl.Reason, "HTTP 400: cannot parse record") {
		t.Fatalf("dead letter %+v", dl)
	}
	if st := r.Sinks()[0]; st.DeadLettered != 1 || st.State != model.SinkRunning {
		t.Fatalf("status %+v", st)
	}
}
