package elasticsearch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
)

// maxResponseBytes bounds how much of a bulk answer is read: about 100
// bytes per item for the largest batches.
const maxResponseBytes = 64 << 20

// Destination writes batches to one cluster's _bulk endpoint.
type Destination struct {
	sinks.HTTPPoster
	cfg      Config
	url      string
	logger   *slog.Logger
	encoders sync.Pool // *encoder; Deliver may run concurrently
}

var _ sinks.Destination = (*Destination)(nil)

// New builds an elasticsearch destination from the sink's spec.
func New(spec sinks.Spec) (sinks.Destination, error) {
	cfg, client, err := sinks.HTTPSettings(spec, func(c *Config) outbound.ClientConfig { return c.ClientConfig })
	if err != nil {
		return nil, err
	}
	if cfg.Index == "" {
		cfg.Index = DefaultIndex
	}
	d := &Destination{
		HTTPPoster: sinks.HTTPPoster{Client: client, Now: time.Now},
		cfg:        cfg,
		url:        bulkURL(cfg.URL),
		logger:     spec.DestinationLogger("elasticsearch"),
	}
	d.encoders.New = func() any { return newEncoder(cfg) }
	return d, nil
}

// Deliver sends records in one bulk request. Besides the answers every
// destination gives (outbound.CheckResponse), a 2xx answer with per-document
// errors becomes a *sinks.PartialError: documents refused with 429 or 5xx
// are to be retried, the others (mapping errors and the like) are rejected.
func (d *Destination) Deliver(ctx context.Context, records []model.LogRecord) error {
	if len(records) == 0 {
		return nil
	}
	enc := d.encoders.Get().(*encoder)
	defer d.encoders.Put(enc)
	body, err := enc.encode(records)
	if err != nil {
		return fmt.Errorf("elasticsearch bulk: encode: %w", err)
	}
	header := http.Header{}
	header.Set("Content-Type", "application/x-ndjson")
	if enc.gzip {
		header.Set("Content-Encoding", "gzip")
	}
	return d.Post(ctx, "elasticsearch bulk", d.url, header, body, func(r io.Reader) error {
		return d.outcome(r, len(records))
	})
}

// outcome reads a 2xx bulk answer: nil when every document was taken, a
// *sinks.PartialError naming the others.
func (d *Destination) outcome(r io.Reader, n int) error {
	answer, err := io.ReadAll(io.LimitReader(r, maxResponseBytes))
	if err != nil {
		// The server took the request; whether it took every document is
		// unknown, and sending them again is the at-least-once choice.
		return &sinks.RetryableError{Err: fmt.Errorf("elasticsearch bulk: read response: %w", err)}
	}
	res, err := parseBulkResponse(answer, n)
	if err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("elasticsearch bulk: %w", err)}
	}
	if len(res.retry) == 0 && len(res.rejected) == 0 {
		return nil
	}
	if len(res.rejected) > 0 {
		d.logger.Warn("documents refused", "rejected", len(res.rejected), "retry", len(res.retry))
	}
	return &sinks.PartialError{Retry: res.retry, Rejected: res.rejected}
}
