package remotewrite

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
)

// DefaultTimeout bounds one request when the sink sets no timeout.
const DefaultTimeout = 30 * time.Second

// Writer sends batches of samples to one remote write endpoint.
type Writer struct {
	name   string
	url    string
	client *http.Client
}

// NewWriter checks cfg and builds the HTTP client of the sink name; it
// sends nothing.
func NewWriter(name string, cfg *Config) (*Writer, error) {
	if err := checkName(name, cfg.Validate()); err != nil {
		return nil, err
	}
	client, err := outbound.NewClient("remote write "+name, cfg.ClientConfig, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	return &Writer{name: name, url: cfg.URL, client: client}, nil
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
	model.MetricCPURequest:           "opshub_container_spec_cpu_request_cores",
	model.MetricMemoryRequest:        "opshub_container_spec_memory_request_bytes",
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
// network failures, 408, 429 and 5xx (outbound.CheckResponse), any other
// error for answers that retrying cannot fix; it never retries by itself.
func (w *Writer) Write(ctx context.Context, samples []model.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	body, err := Encode(samples)
	if err != nil {
		return fmt.Errorf("remote write %q: %w", w.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("remote write %q: %w", w.name, err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	req.Header.Set("User-Agent", "opshub")
	resp, err := w.client.Do(req)
	if err != nil {
		return outbound.NetworkError(fmt.Errorf("remote write %q: %w", w.name, err))
	}
	defer resp.Body.Close()
	err = outbound.CheckResponse(resp, time.Now())
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("remote write %q: %w", w.name, err)
	}
	return nil
}
