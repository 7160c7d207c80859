package sinks

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
	"github.com/prometheus/client_golang/prometheus"
)

// Destination delivers batches to one kind of remote system (Loki,
// Elasticsearch, a file, …). It encodes and sends; the machinery in this
// package wraps it with filtering, batching, the durable buffer, retries and
// dead-lettering, so a destination never retries or buffers by itself.
//
// Callers may rely on Deliver returning:
//   - nil when every record was accepted;
//   - a *RetryableError for 408, 429, 5xx and network failures, with
//     RetryAfter set when the server said how long to wait;
//   - a *PartialError when the server took some records and refused others
//     (an Elasticsearch bulk response), naming which to retry;
//   - any other error when the batch can never be delivered as it is (other
//     4xx): it goes to the dead-letter file with the error as the reason.
//
// Deliver must not keep records, or the slice, after it returns: the slice
// is reused for the next batch.
type Destination interface {
	Deliver(ctx context.Context, records []model.LogRecord) error
	Close() error
}

// RetryableError is a delivery failure worth trying again; outbound owns
// the type so that sinks, notifiers and remote write share it.
type RetryableError = outbound.RetryableError

// PartialError reports a batch the destination took in part. Indexes refer
// to the records passed to Deliver.
type PartialError struct {
	// Retry lists records that failed for a retryable reason.
	Retry []int
	// Rejected lists records refused for good, each with its reason; they go
	// to the dead-letter file.
	Rejected map[int]string
	// RetryAfter as in RetryableError.
	RetryAfter time.Duration
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("partial delivery: %d records to retry, %d rejected", len(e.Retry), len(e.Rejected))
}

// Spec is what a destination's constructor receives: the settings every sink
// shares, and the destination's own settings (STYLE: plugins own their
// config; config has decoded them into the type the destination package
// declares and run its Validate).
type Spec struct {
	Name     string
	Type     string
	Encoding string // text | json, or "" for the destination's default
	// Settings are the destination's own keys: a pointer to the settings
	// type its Plugin declares.
	Settings Settings
	DataDir  string // the sink's own directory under dataDir, for state it keeps
	Logger   *slog.Logger
}

// Settings are a destination's own keys: a pointer to a struct with yaml
// tags that config decodes strictly (config.PluginConfig). Validate reports
// every problem at once, each starting with its key ("url: ...").
type Settings = interface{ Validate() error }

// Factory builds a destination from its spec.
type Factory func(spec Spec) (Destination, error)

// Plugin is one destination type: its settings and its constructor. The
// binary's list of types (internal/plugins) maps each type name to one.
// A sink of log records sets New; a sink of metric samples
// (prometheus-remote-write) sets Samples instead.
type Plugin struct {
	// Settings returns new settings holding the type's defaults.
	Settings func() Settings
	New      Factory
	Samples  SampleFactory
}

// SampleSink takes the container metric samples of every scrape.
//
// Callers may rely on Send never blocking the scraper (a sink that falls
// behind drops, and counts, the oldest samples), and on Run delivering in
// the background until ctx ends, returning only after its goroutines end.
type SampleSink interface {
	Send(samples []model.Sample)
	Run(ctx context.Context) error
}

// SampleOptions are what a sample sink's constructor receives besides its
// spec.
type SampleOptions struct {
	Logger *slog.Logger
	// Registerer takes the sink's self-metrics; sinks of one type share
	// them, labelled by sink name.
	Registerer prometheus.Registerer
}

// SampleFactory builds a sink of metric samples from its spec.
type SampleFactory func(spec Spec, opts SampleOptions) (SampleSink, error)

// SettingsOf returns the spec's settings as the destination's own type.
func SettingsOf[T Settings](spec Spec) (T, error) {
	s, ok := spec.Settings.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("sink %q: settings are %T, want %T", spec.Name, spec.Settings, zero)
	}
	return s, nil
}

// ConfigOf returns a copy of the spec's settings, of the destination's own
// type C, for its constructor to fill defaults into without changing the
// spec: what HTTPSettings returns, for a destination that does not speak
// HTTP.
func ConfigOf[C any, P interface {
	*C
	Settings
}](spec Spec) (C, error) {
	var zero C
	p, err := SettingsOf[P](spec)
	if err != nil {
		return zero, err
	}
	if p == nil {
		return zero, fmt.Errorf("sink %q: settings are nil", spec.Name)
	}
	return *p, nil
}
