package datadog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// Destination sends batches to Datadog's logs intake.
type Destination struct {
	sinks.HTTPPoster
	cfg    Config
	url    string
	json   bool
	logger *slog.Logger
	gzips  sync.Pool // *gzip.Writer, when cfg.Compression is gzip
}

var _ sinks.Destination = (*Destination)(nil)

// New builds a datadog destination from the sink's spec.
func New(spec sinks.Spec) (sinks.Destination, error) {
	cfg, client, err := sinks.HTTPSettings(spec, (*Config).client)
	if err != nil {
		return nil, err
	}
	if cfg.Hostname == "" {
		cfg.Hostname, _ = os.Hostname()
	}
	u := cfg.URL
	if u == "" {
		u, _ = intakeURL(cfg.Site) // checked by Validate
	}
	return &Destination{
		HTTPPoster: sinks.HTTPPoster{Client: client, Now: time.Now},
		cfg:        cfg,
		url:        u,
		json:       spec.Encoding == "json",
		logger:     spec.DestinationLogger("datadog"),
	}, nil
}

// Deliver sends records in as few requests as the intake's limits allow,
// in order. When a request fails for a retryable reason, the records of it
// and of every later request are reported for retry and not sent now, so
// order is kept; a request refused for good (400, 403, 413) rejects its
// records and the later requests still go out. With more than one request
// the outcome is a *sinks.PartialError.
func (d *Destination) Deliver(ctx context.Context, records []model.LogRecord) error {
	if len(records) == 0 {
		return nil
	}
	payloads := split(d.encodeEntries(records))
	if len(payloads) == 1 {
		return d.post(ctx, payloads[0].body)
	}
	partial := &sinks.PartialError{}
	for i, p := range payloads {
		err := d.post(ctx, p.body)
		if err == nil {
			continue
		}
		var re *sinks.RetryableError
		if errors.As(err, &re) {
			for _, rest := range payloads[i:] {
				partial.Retry = append(partial.Retry, rest.indexes...)
			}
			partial.RetryAfter = re.RetryAfter
			break
		}
		if partial.Rejected == nil {
			partial.Rejected = map[int]string{}
		}
		for _, idx := range p.indexes {
			partial.Rejected[idx] = err.Error()
		}
	}
	if len(partial.Retry) == 0 && len(partial.Rejected) == 0 {
		return nil
	}
	slices.Sort(partial.Retry)
	return partial
}

// encodeEntries returns the JSON entry of each record, all in one buffer.
func (d *Destination) encodeEntries(records []model.LogRecord) [][]byte {
	buf := make([]byte, 0, 512*len(records))
	ends := make([]int, len(records))
	for i, r := range records {
		buf = d.appendEntry(buf, r)
		ends[i] = len(buf)
	}
	entries := make([][]byte, len(records))
	start := 0
	for i, end := range ends {
		entries[i] = buf[start:end:end]
		start = end
	}
	return entries
}

// post sends one payload and classifies the answer (202 accepted; 400,
// 403 and 413 refused for good; 408, 429 and 5xx retryable).
func (d *Destination) post(ctx context.Context, body []byte) error {
	gzipped := d.cfg.Compression == "gzip"
	if gzipped {
		var err error
		if body, err = d.gzip(body); err != nil {
			return fmt.Errorf("datadog intake: gzip payload: %w", err)
		}
	}
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	if gzipped {
		header.Set("Content-Encoding", "gzip")
	}
	header.Set("DD-API-KEY", d.cfg.APIKey)
	return d.Post(ctx, "datadog intake", d.url, header, body, nil)
}

// gzip compresses a payload into a new slice: the transport may still read
// a request body after Do returned, so the compressed bytes are not reused;
// the writer, the costly part, is.
func (d *Destination) gzip(body []byte) ([]byte, error) {
	out := bytes.NewBuffer(make([]byte, 0, len(body)/4+64))
	zw, _ := d.gzips.Get().(*gzip.Writer)
	if zw == nil {
		var err error
		if zw, err = gzip.NewWriterLevel(out, gzip.BestSpeed); err != nil {
			return nil, err
		}
	} else {
		zw.Reset(out)
	}
	defer d.gzips.Put(zw)
	if _, err := zw.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
