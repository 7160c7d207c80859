// Package http is the http sink: it POSTs batches of log records to any
// HTTP endpoint, as a JSON array, newline-delimited JSON, text lines, or
// length-prefixed records, optionally gzipped, with the auth and TLS
// settings every HTTP sink shares. Any 2xx answer means delivered.
//
// It must not retry or buffer: package sinks does both around it.
package http

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/sinks"
)

// Framings of the records in one request body.
const (
	// FramingNone sends one document: a JSON array of records with the json
	// encoding, the records back to back with text.
	FramingNone = "none"
	// FramingNewline ends each record with a newline (NDJSON with json).
	FramingNewline = "newline"
	// FramingLength puts each record's length before it, as a 4-byte
	// big-endian unsigned integer.
	FramingLength = "length"
)

// Plugin is the http destination type.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return DefaultSettings() }, New: New}

// Settings are the http sink's own keys.
type Settings struct {
	URL string `yaml:"url"`
	// Method is POST (the default) or PUT.
	Method string `yaml:"method"`
	// Framing is none, newline (the default) or length.
	Framing string `yaml:"framing"`
	// Compression is none (the default) or gzip.
	Compression string `yaml:"compression"`
	// ClientConfig holds auth, tls, headers, timeout and proxyURL.
	outbound.ClientConfig `yaml:",inline"`
}

// DefaultSettings are the settings of an http sink that gives only its url.
func DefaultSettings() *Settings {
	return &Settings{Method: http.MethodPost, Framing: FramingNewline, Compression: "none"}
}

// Validate reports every bad key at once.
func (s *Settings) Validate() error {
	errs := []error{outbound.CheckURLKey("url", s.URL), s.ClientConfig.Validate()}
	if s.Method != http.MethodPost && s.Method != http.MethodPut {
		errs = append(errs, fmt.Errorf("method: must be one of POST, PUT, got %q", s.Method))
	}
	switch s.Framing {
	case FramingNone, FramingNewline, FramingLength:
	default:
		errs = append(errs, fmt.Errorf("framing: must be one of none, newline, length, got %q", s.Framing))
	}
	errs = append(errs, sinks.CheckCompression(s.Compression))
	return errors.Join(errs...)
}

// Sink delivers to an HTTP endpoint.
type Sink struct {
	name     string
	settings Settings
	client   *http.Client
	body     *Body
}

var _ sinks.Destination = (*Sink)(nil)

// New builds an http sink from its spec. It makes no request.
func New(spec sinks.Spec) (sinks.Destination, error) {
	s, client, err := sinks.HTTPSettings(spec, func(s *Settings) outbound.ClientConfig { return s.ClientConfig })
	if err != nil {
		return nil, err
	}
	body, err := NewBody(spec.Encoding, s.Framing, s.Compression == "gzip")
	if err != nil {
		return nil, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	return &Sink{name: spec.Name, settings: s, client: client, body: body}, nil
}

// Deliver sends records in one request. A 2xx answer means delivered; see
// outbound.CheckResponse for the other classes.
func (s *Sink) Deliver(ctx context.Context, records []model.LogRecord) error {
	buf := getBuffer()
	defer putBuffer(buf)
	if err := s.body.Encode(buf, records); err != nil {
		return fmt.Errorf("encode batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, s.settings.Method, s.settings.URL, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", s.body.ContentType())
	if s.body.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("post batch: %w", err)}
	}
	defer resp.Body.Close()
	err = outbound.CheckResponse(resp, time.Now())
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("post batch: %w", err)
	}
	return nil
}

// Close releases idle connections.
func (s *Sink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer {
	b := buffers.Get().(*bytes.Buffer)
	b.Reset()
	return b
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 16<<20 {
		buffers.Put(b)
	}
}

// Body encodes batches into request bodies.
type Body struct {
	appendRecord sinks.AppendFunc
	json         bool
	framing      string
	gzip         bool
	gzips        sync.Pool
	scratch      sync.Pool
}

// NewBody returns the body encoder for an encoding (json or text), a
// framing and whether to gzip.
func NewBody(encoding, framing string, gzipped bool) (*Body, error) {
	enc, err := sinks.Encoder(encoding)
	if err != nil {
		return nil, err
	}
	switch framing {
	case FramingNone, FramingNewline, FramingLength:
	case "":
		framing = FramingNewline
	default:
		return nil, fmt.Errorf("unknown framing %q (known framings: none, newline, length)", framing)
	}
	return &Body{appendRecord: enc, json: encoding != sinks.EncodingText, framing: framing, gzip: gzipped}, nil
}

// ContentType is the Content-Type of the bodies.
func (b *Body) ContentType() string {
	switch {
	case b.framing == FramingLength:
		return "application/octet-stream"
	case !b.json:
		return "text/plain; charset=utf-8"
	case b.framing == FramingNone:
		return "application/json"
	}
	return "application/x-ndjson"
}

// Encode writes the body of records to w.
func (b *Body) Encode(w io.Writer, records []model.LogRecord) error {
	var p *[]byte
	if v := b.scratch.Get(); v != nil {
		p = v.(*[]byte)
	} else {
		p = new([]byte)
	}
	out := b.encode((*p)[:0], records)
	defer func() {
		*p = out[:0]
		b.scratch.Put(p)
	}()
	if !b.gzip {
		_, err := w.Write(out)
		return err
	}
	zw, _ := b.gzips.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(w)
	} else {
		zw.Reset(w)
	}
	defer b.gzips.Put(zw)
	if _, err := zw.Write(out); err != nil {
		return err
	}
	return zw.Close()
}

func (b *Body) encode(dst []byte, records []model.LogRecord) []byte {
	array := b.json && b.framing == FramingNone
	if array {
		dst = append(dst, '[')
	}
	for i, r := range records {
		switch {
		case b.framing == FramingLength:
			at := len(dst)
			dst = append(dst, 0, 0, 0, 0)
			dst = b.appendRecord(dst, r)
			binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
		case array:
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = b.appendRecord(dst, r)
		default:
			dst = b.appendRecord(dst, r)
			if b.framing == FramingNewline {
				dst = append(dst, '\n')
			}
		}
	}
	if array {
		dst = append(dst, ']')
	}
	return dst
}
