package app

import (
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/plugins"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// SinkTypes maps every log sink type this build delivers to to its
// destination's constructor (internal/plugins lists them).
func SinkTypes() map[string]sinks.Factory {
	out := map[string]sinks.Factory{}
	for kind, p := range plugins.Sinks() {
		if p.New != nil {
			out[kind] = p.New
		}
	}
	return out
}

var registerSinks sync.Once

// registerSinkTypes fills the sinks registry, once per process, leaving
// alone the types registered already (tests may register them first).
func registerSinkTypes() {
	registerSinks.Do(func() {
		for kind, f := range SinkTypes() {
			if _, err := sinks.Lookup(kind); err != nil {
				sinks.Register(kind, f)
			}
		}
	})
}

// SinkConfigs maps the configured sinks onto the router's settings.
func SinkConfigs(cfg *config.Config) []sinks.SinkConfig {
	out := make([]sinks.SinkConfig, 0, len(cfg.Sinks))
	for _, s := range cfg.Sinks {
		if plugins.IsSampleSink(s.Type) {
			continue // a sink of metric samples, not of log records (see newSampleSinks)
		}
		out = append(out, sinks.SinkConfig{
			Spec: sinks.Spec{Name: s.Name, Type: s.Type, Encoding: s.Encoding, Settings: s.Settings},
			Filter: sinks.Filter{
				Projects:   s.Filter.Projects,
				Services:   s.Filter.Services,
				Containers: s.Filter.Containers,
				Streams:    s.Filter.Streams,
				Include:    s.Filter.Include,
				Exclude:    s.Filter.Exclude,
			},
			Batch: sinks.BatchLimits{
				MaxEvents: s.Batch.MaxEvents,
				MaxBytes:  int64(s.Batch.MaxBytes),
				Timeout:   s.Batch.Timeout.D(),
			},
			BufferMaxBytes: bufferBytes(s.Buffer.MaxBytes),
		})
	}
	return out
}

// bufferBytes maps buffer.maxBytes: 0 turns the buffer off.
func bufferBytes(b config.ByteSize) int64 {
	if b == 0 {
		return sinks.NoBuffer
	}
	return int64(b)
}

// newSinks builds the router that takes the collector's batches to every
// configured sink; emit receives sink.failing and sink.recovered.
func newSinks(cfg *config.Config, reg prometheus.Registerer, emit func(model.Event), log *slog.Logger) (*sinks.Router, error) {
	registerSinkTypes()
	return sinks.NewRouter(SinkConfigs(cfg), sinks.Options{
		DataDir:    cfg.DataDir,
		Logger:     log,
		Registerer: reg,
		Emit:       emit,
	})
}
