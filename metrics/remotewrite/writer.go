package remotewrite

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// Config is a prometheus-remote-write sink's own settings.
type Config struct {
	Name string
	URL  string
	// Headers are added to every request.
	Headers map[string]string
	// Basic auth, or a bearer token; at most one.
	Username, Password string
	BearerToken        string
	Timeout            time.Duration // default 30s
	CAFile             string
	InsecureSkipVerify bool
	ServerName         string
}

// Writer sends batches of samples to one remote write endpoint.
type Writer struct {
	cfg    Config
	client *http.Client
}

// NewWriter checks cfg and builds the HTTP client; it sends nothing.
func NewWriter(cfg Config) (*Writer, error) {
	if cfg.URL == "" {
		return nil, fmt.Errorf("remote write %q: no url", cfg.Name)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify, ServerName: cfg.ServerName}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("remote write %q: CA file: %w", cfg.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("remote write %q: CA file %s holds no PEM certificate", cfg.Name, cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	return &Writer{cfg: cfg, client: &http.Client{
		Timeout:   cfg.Timeout,
		Transport: &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment},
	}}, nil
}

// seriesNames are the metric names samples are written as. Rates are
// written as the per-second gauges opshub computed, with the unit in the
// name as Prometheus' conventions ask; gauges have the names they have on
// /metrics.
var seriesNames = map[model.MetricType]string{
	model.MetricCPU:                  "opshub_container_cpu_usage_cores",
	model.MetricMemory:               "opshub_container_memory_working_set_bytes",
	model.MetricMemoryRSS:            "opshub_container_memory_rss_bytes",
	model.MetricNetworkRx:            "opshub_container_network_receive_bytes_per_second",
	model.MetricNetworkTx:            "opshub_container_network_transmit_bytes_per_second",
	model.MetricDiskRead:             "opshub_container_fs_read_bytes_per_second",
	model.MetricDiskWrite:            "opshub_container_fs_write_bytes_per_second",
	model.MetricFilesystemUsed:       "opshub_container_fs_usage_bytes",
	model.MetricLogLines:             "opshub_container_log_lines_per_second",
	model.MetricRestarts:             "opshub_container_restarts",
	model.MetricCPULimit:             "opshub_container_spec_cpu_limit_cores",
	model.MetricMemoryLimit:          "opshub_container_spec_memory_limit_bytes",
	model.MetricCPURequestPercent:    "opshub_container_cpu_request_percent",
	model.MetricCPULimitPercent:      "opshub_container_cpu_limit_percent",
	model.MetricMemoryLimitPercent:   "opshub_container_memory_limit_percent",
	model.MetricMemoryRequestPercent: "opshub_container_memory_request_percent",
	model.MetricVolumeUsed:           "opshub_volume_used_bytes",
	model.MetricVolumeCapacity:       "opshub_volume_capacity_bytes",
	model.MetricVolumeInodes:         "opshub_volume_inodes_used",
	model.MetricVolumeUsedPercent:    "opshub_volume_used_percent",
}

// SeriesName is the metric name a sample type is written as.
func SeriesName(t model.MetricType) string {
	if n, ok := seriesNames[t]; ok {
		return n
	}
	return "opshub_container_" + strings.ReplaceAll(string(t), "-", "_")
}

// Encode builds the snappy-compressed WriteRequest for samples: one time
// series per sample, labels sorted by name as the protocol requires.
func Encode(samples []model.Sample) ([]byte, error) {
	req := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, len(samples))}
	for _, s := range samples {
		labels := []prompb.Label{{Name: "__name__", Value: SeriesName(s.Type)}}
		add := func(k, v string) {
			if v != "" {
				labels = append(labels, prompb.Label{Name: k, Value: v})
			}
		}
		add("project", s.Project)
		add("service", s.Service)
		add("instance", s.Instance)
		add("container", s.Container)
		add("volume", s.Volume)
		slices.SortFunc(labels, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels:  labels,
			Samples: []prompb.Sample{{Value: s.Value, Timestamp: s.Time.UnixMilli()}},
		})
	}
	raw, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode write request: %w", err)
	}
	return snappy.Encode(nil, raw), nil
}

// Write sends samples in one request. It returns a *sinks.RetryableError for
// network failures, 429 and 5xx (with the server's Retry-After), any other
// error for answers that retrying cannot fix; it never retries by itself.
func (w *Writer) Write(ctx context.Context, samples []model.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	body, err := Encode(samples)
	if err != nil {
		return fmt.Errorf("remote write %q: %w", w.cfg.Name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("remote write %q: %w", w.cfg.Name, err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "opshub")
	for k, v := range w.cfg.Headers {
		req.Header.Set(k, v)
	}
	switch {
	case w.cfg.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+w.cfg.BearerToken)
	case w.cfg.Username != "":
		req.SetBasicAuth(w.cfg.Username, w.cfg.Password)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("remote write %q: %w", w.cfg.Name, err)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("remote write %q: %s: %s", w.cfg.Name, resp.Status, strings.TrimSpace(string(msg)))
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return &sinks.RetryableError{Err: err, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	return err
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retryable reports whether err is worth retrying, and after how long at
// least.
func retryable(err error) (time.Duration, bool) {
	var re *sinks.RetryableError
	if errors.As(err, &re) {
		return re.RetryAfter, true
	}
	return 0, false
}
