package remotewrite

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/prompb"
	"gopkg.in/yaml.v3"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/promtest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
)

var at = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func samples() []model.Sample {
	web0 := model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}
	return []model.Sample{
		{Ref: web0, Type: model.MetricCPU, Time: at, Value: 0.5},
		{Ref: web0, Type: model.MetricMemory, Time: at, Value: 200 << 20},
		{Ref: web0.ServiceRef(), Type: model.MetricVolumeUsed, Volume: "data", Time: at, Value: 1 << 20},
	}
}

func TestSeriesNames(t *testing.T) {
	tests := map[model.MetricType]string{
		model.MetricCPU:               "opshub_container_cpu_usage_cores",
		model.MetricMemory:            "opshub_container_memory_working_set_bytes",
		model.MetricNetworkRx:         "opshub_container_network_receive_bytes_per_second",
		model.MetricLogLines:          "opshub_container_log_lines_per_second",
		model.MetricCPULimitPercent:   "opshub_container_cpu_limit_percent",
		model.MetricRestarts:          "opshub_container_restarts",
		model.MetricVolumeUsed:        "opshub_volume_used_bytes",
		model.MetricVolumeUsedPercent: "opshub_volume_used_percent",
	}
	for typ, want := range tests {
		if got := SeriesName(typ); got != want {
			t.Errorf("SeriesName(%s) = %q, want %q", typ, got, want)
		}
	}
}

func TestWriteEncodesAndClassifies(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantErr    bool
		retryable  bool
		wantWait   time.Duration
	}{
		{"accepted", 204, "", false, false, 0},
		{"bad request is not retried", 400, "", true, false, 0},
		{"too many requests waits as asked", 429, "7", true, true, 7 * time.Second},
		{"server error is retried", 503, "", true, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got prompb.WriteRequest
			var headers http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				headers = r.Header.Clone()
				body, _ := io.ReadAll(r.Body)
				raw, err := snappy.Decode(nil, body)
				if err != nil {
					t.Errorf("body is not snappy: %v", err)
				}
				if err := got.Unmarshal(raw); err != nil {
					t.Errorf("body is not a WriteRequest: %v", err)
				}
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			w, err := NewWriter("prom", &Config{URL: srv.URL, ClientConfig: outbound.ClientConfig{Auth: outbound.Auth{Bearer: &outbound.BearerAuth{Token: "tok"}}, Headers: map[string]string{"X-Scope-OrgID": "team"}}})
			if err != nil {
				t.Fatal(err)
			}
			err = w.Write(context.Background(), samples())
			if (err != nil) != tc.wantErr {
				t.Fatalf("Write error %v, want error %v", err, tc.wantErr)
			}
			var re *sinks.RetryableError
			if errors.As(err, &re) != tc.retryable || (re != nil && re.RetryAfter != tc.wantWait) {
				t.Errorf("Write error %#v: retryable %v with wait %v wanted", err, tc.retryable, tc.wantWait)
			}
			for k, v := range map[string]string{"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
				"X-Prometheus-Remote-Write-Version": "0.1.0", "Authorization": "Bearer tok", "X-Scope-OrgID": "team"} {
				if headers.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, headers.Get(k), v)
				}
			}
			if len(got.Timeseries) != 3 {
				t.Fatalf("%d time series, want 3", len(got.Timeseries))
			}
			ts := got.Timeseries[0]
			var labels []string
			for _, l := range ts.Labels {
				labels = append(labels, l.Name+"="+l.Value)
			}
			want := "__name__=opshub_container_cpu_usage_cores container=web instance=web-0 project=demo service=web"
			if strings.Join(labels, " ") != want || ts.Samples[0].Value != 0.5 || ts.Samples[0].Timestamp != at.UnixMilli() {
				t.Errorf("first series %v %v, want %s = 0.5 at %d", labels, ts.Samples, want, at.UnixMilli())
			}
		})
	}
}

func TestForwarderRetriesThenDelivers(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	w, _ := NewWriter("prom", &Config{URL: srv.URL})
	reg := prometheus.NewRegistry()
	f, err := NewForwarder(w, ForwarderOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	// A second sink's forwarder shares the registered metrics.
	w2, _ := NewWriter("other", &Config{URL: srv.URL})
	if _, err := NewForwarder(w2, ForwarderOptions{Registerer: reg}); err != nil {
		t.Fatalf("second forwarder: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	f.Send(samples())
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(f.sent.WithLabelValues("prom")) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("samples not delivered after retries; %d calls", calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d requests, want 2 failures and 1 success", calls.Load())
	}
	_ = f.Close()
	_ = f.Close()
}

func TestForwarderDropsOldestWhenFull(t *testing.T) {
	w, _ := NewWriter("prom", &Config{URL: "http://127.0.0.1:1"})
	f, _ := NewForwarder(w, ForwarderOptions{QueueBatches: 2})
	for range 5 {
		f.Send(samples()) // Run is not running: nothing drains the queue
	}
	if got := testutil.ToFloat64(f.dropped.WithLabelValues("prom", "queue_full")); got != 9 {
		t.Errorf("%v samples dropped, want 9 (three batches of three)", got)
	}
	if len(f.queue) != 2 {
		t.Errorf("%d batches queued, want 2", len(f.queue))
	}
}

// TestPrometheusReceivesRemoteWrite writes samples to a real Prometheus
// with its receiver on, and reads them back through its query API.
func TestPrometheusReceivesRemoteWrite(t *testing.T) {
	prom := promtest.Start(t, "global: {scrape_interval: 15s}\n")
	now := time.Now().Truncate(time.Second)
	ss := samples()
	for i := range ss {
		ss[i].Time = now
	}
	w, err := NewWriter("prom", &Config{URL: prom.URL + "/api/v1/write"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(context.Background(), ss); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  float64
	}{
		{`opshub_container_cpu_usage_cores{project="demo",service="web",instance="web-0",container="web"}`, 0.5},
		{`opshub_container_memory_working_set_bytes{instance="web-0"}`, 200 << 20},
		{`opshub_volume_used_bytes{service="web",volume="data"}`, 1 << 20},
	}
	for _, tc := range tests {
		got := prom.WaitQuery(t, tc.query, 1, 15*time.Second)
		if got[0].Value != tc.want {
			t.Errorf("%s = %v, want %v", tc.query, got[0].Value, tc.want)
		}
	}
}

func TestConfigDecodesAsConfigDoes(t *testing.T) {
	var doc yaml.Node
	src := `
url: https://prom.example.com/api/v1/write
timeout: 5s
headers: {X-Scope-OrgID: team}
auth: {basic: {username: u, password: p}}
tls: {caFile: /etc/ca.pem, serverName: prom, minVersion: TLS13}
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var got Config
	if err := config.DecodePlugin(&doc, &got); err != nil {
		t.Fatal(err)
	}
	want := Config{URL: "https://prom.example.com/api/v1/write", ClientConfig: outbound.ClientConfig{
		Timeout: 5 * time.Second, Headers: map[string]string{"X-Scope-OrgID": "team"},
		Auth: outbound.Auth{Basic: &outbound.BasicAuth{Username: "u", Password: "p"}},
		TLS:  outbound.TLS{CAFile: "/etc/ca.pem", ServerName: "prom", MinVersion: "TLS13"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded %+v\nwant %+v", got, want)
	}
}

// TestWriterPresentsItsClientCertificate: the tls keys a sink accepts are
// the ones its client uses. A receiver that requires a client certificate
// signed by its CA and TLS 1.3 takes samples from a sink configured with
// certFile, keyFile, caFile and minVersion, and refuses one without them.
func TestWriterPresentsItsClientCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := sinktest.NewCA(t, dir)
	serverCert, serverKey := ca.Server("receiver")
	clientCert, clientKey := ca.Client("opshub")
	pair, err := tls.LoadX509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.TLS.PeerCertificates[0].Subject.CommonName
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: ca.Pool(), MinVersion: tls.VersionTLS13}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is part of the test
	srv.StartTLS()
	defer srv.Close()

	keys := fmt.Sprintf("url: %s\ntls: {caFile: %s, certFile: %s, keyFile: %s, minVersion: TLS13}\n", srv.URL, ca.File, clientCert, clientKey)
	w, err := NewWriter("prom", plugintest.Decode(t, &Config{}, keys))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(t.Context(), samples()); err != nil {
		t.Fatalf("Write with the client certificate: %v", err)
	}
	if cn := <-seen; cn != "opshub" {
		t.Errorf("the receiver saw client certificate %q, want opshub", cn)
	}

	without, err := NewWriter("prom", plugintest.Decode(t, &Config{}, fmt.Sprintf("url: %s\ntls: {caFile: %s}\n", srv.URL, ca.File)))
	if err != nil {
		t.Fatal(err)
	}
	if err := without.Write(t.Context(), samples()); err == nil {
		t.Fatal("a receiver requiring a client certificate accepted a writer without one")
	}
}
