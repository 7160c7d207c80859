package elasticsearch

import (
	"bytes"
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
	cfg      Config
	url      string
	client   *http.Client
	logger   *slog.Logger
	encoders sync.Pool // *encoder; Deliver may run concurrently
	now      func() time.Time
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
		cfg:    cfg,
		url:    bulkURL(cfg.URL),
		client: client,
		logger: spec.DestinationLogger("elasticsearch"),
		now:    time.Now,
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("elasticsearch bulk: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("User-Agent", "opshub")
	if enc.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("elasticsearch bulk: %w", err)}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	if err := outbound.CheckResponse(resp, d.now()); err != nil {
		return err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		// The server took the request; whether it took every document is
		// unknown, and sending them again is the at-least-once choice.
		return &sinks.RetryableError{Err: fmt.Errorf("elasticsearch bulk: read response: %w", err)}
	}
	res, err := parseBulkResponse(answer, len(records))
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

// Close releases idle connections. It is safe to call more than once.
func (d *Destination) Close() error {
	d.client.CloseIdleConnections()
	return nil
}
