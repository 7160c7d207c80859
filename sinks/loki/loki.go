package loki

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
)

// Destination pushes batches to one Loki push endpoint.
type Destination struct {
	sinks.HTTPPoster
	cfg      Config
	logger   *slog.Logger
	encoders sync.Pool // *encoder; Deliver may run concurrently
}

var _ sinks.Destination = (*Destination)(nil)

// New builds a loki destination from the sink's spec.
func New(spec sinks.Spec) (sinks.Destination, error) {
	cfg, client, err := sinks.HTTPSettings(spec, func(c *Config) outbound.ClientConfig { return c.ClientConfig })
	if err != nil {
		return nil, err
	}
	return newDestination(cfg, spec.Encoding, client, spec.DestinationLogger("loki")), nil
}

func newDestination(cfg Config, encoding string, client *http.Client, logger *slog.Logger) *Destination {
	d := &Destination{HTTPPoster: sinks.HTTPPoster{Client: client, Now: time.Now}, cfg: cfg, logger: logger}
	jsonLines := encoding == "json"
	d.encoders.New = func() any { return newEncoder(cfg, jsonLines) }
	return d
}

// Deliver pushes records in one request. It returns a *sinks.RetryableError
// for network failures, 408, 429 and 5xx, and a plain error for other
// refusals (a malformed or too old batch stays refused however often it is
// sent).
func (d *Destination) Deliver(ctx context.Context, records []model.LogRecord) error {
	if len(records) == 0 {
		return nil
	}
	enc := d.encoders.Get().(*encoder)
	defer d.encoders.Put(enc)
	body, err := enc.encode(records)
	if err != nil {
		return err
	}
	header := http.Header{}
	header.Set("Content-Type", "application/x-protobuf")
	if d.cfg.TenantID != "" {
		header.Set("X-Scope-OrgID", d.cfg.TenantID)
	}
	return d.Post(ctx, "loki push", d.cfg.URL, header, body, nil)
}
