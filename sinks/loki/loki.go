package loki

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

// Destination pushes batches to one Loki push endpoint.
type Destination struct {
	cfg      Config
	client   *http.Client
	logger   *slog.Logger
	encoders sync.Pool // *encoder; Deliver may run concurrently
	now      func() time.Time
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
	d := &Destination{cfg: cfg, client: client, logger: logger, now: time.Now}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("loki push: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "opshub")
	if d.cfg.TenantID != "" {
		req.Header.Set("X-Scope-OrgID", d.cfg.TenantID)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("loki push: %w", err)}
	}
	defer func() {
		// Drain so the connection is reused.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	// The error is returned as it is: the sinks machinery branches on its
	// type and names the sink when it logs it.
	return outbound.CheckResponse(resp, d.now())
}

// Close releases idle connections. It is safe to call more than once.
func (d *Destination) Close() error {
	d.client.CloseIdleConnections()
	return nil
}
