// Package stdout is the stdout sink: it writes log records to opshub's own
// standard output, one per line (the JSON record of the user-facing
// contract, or text), for a container runtime or a shell to pick up.
//
// It must not retry or buffer: package sinks does both around it.
package stdout

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// Sink writes records to a writer, standard output unless a test says.
type Sink struct {
	appendFn sinks.AppendFunc
	mu       sync.Mutex
	w        io.Writer
	buf      []byte
}

var _ sinks.Destination = (*Sink)(nil)

// Plugin is the stdout destination type; it has no keys of its own.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return &Settings{} }, New: New}

// Settings are the stdout sink's own keys: none.
type Settings struct{}

// Validate has nothing to check.
func (*Settings) Validate() error { return nil }

// New builds a stdout sink.
func New(spec sinks.Spec) (sinks.Destination, error) {
	return NewWriter(spec, os.Stdout)
}

// NewWriter builds a sink writing to w.
func NewWriter(spec sinks.Spec, w io.Writer) (*Sink, error) {
	enc, err := sinks.Encoder(spec.Encoding)
	if err != nil {
		return nil, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	return &Sink{appendFn: enc, w: w}, nil
}

// Deliver writes records in one write, so that lines of other writers
// do not land inside a batch.
func (s *Sink) Deliver(_ context.Context, records []model.LogRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := sinks.AppendLines(s.buf[:0], s.appendFn, records)
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("write standard output: %w", err)}
	}
	return nil
}

// Close does nothing: standard output stays open.
func (s *Sink) Close() error { return nil }
