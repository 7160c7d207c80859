// Package file is the file sink: it appends log records to a local file,
// one per line (the JSON record of the user-facing contract, or text), and
// rotates it at maxBytes, keeping maxFiles files in all.
//
// It must not retry or buffer: package sinks does both around it.
package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// Defaults, as config fills them in.
const (
	DefaultMaxBytes = 100 << 20
	DefaultMaxFiles = 5
)

// Plugin is the file destination type.
var Plugin = sinks.Plugin{Settings: func() sinks.Settings { return DefaultSettings() }, New: New}

// Settings are the file sink's own keys.
type Settings struct {
	// Path is the file written to. Rotated files are Path.1 (the newest)
	// to Path.<maxFiles-1>.
	Path     string     `yaml:"path" config:"path"`
	MaxBytes sinks.Size `yaml:"maxBytes"`
	// MaxFiles counts the current file and the rotated ones kept.
	MaxFiles int `yaml:"maxFiles"`
}

// DefaultSettings are the settings of a file sink that gives only its path.
func DefaultSettings() *Settings {
	return &Settings{MaxBytes: DefaultMaxBytes, MaxFiles: DefaultMaxFiles}
}

// Validate reports every bad key at once.
func (s *Settings) Validate() error {
	var errs []error
	if s.Path == "" {
		errs = append(errs, errors.New("path: is required"))
	}
	if s.MaxBytes <= 0 {
		errs = append(errs, errors.New("maxBytes: must be more than 0"))
	}
	if s.MaxFiles < 1 {
		errs = append(errs, fmt.Errorf("maxFiles: must be 1 or more, got %d", s.MaxFiles))
	}
	return errors.Join(errs...)
}

// Sink writes records to a rotating file.
type Sink struct {
	settings Settings
	appendFn sinks.AppendFunc

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
}

var _ sinks.Destination = (*Sink)(nil)

// New builds a file sink. It opens nothing until the first delivery.
func New(spec sinks.Spec) (sinks.Destination, error) {
	s, err := sinks.SettingsOf[*Settings](spec)
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	enc, err := sinks.Encoder(spec.Encoding)
	if err != nil {
		return nil, fmt.Errorf("sink %q: %w", spec.Name, err)
	}
	return &Sink{settings: *s, appendFn: enc}, nil
}

// Deliver appends records and syncs the file, rotating first when they
// would take it past maxBytes.
func (s *Sink) Deliver(_ context.Context, records []model.LogRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := sinks.AppendLines(s.buf[:0], s.appendFn, records)
	s.buf = buf
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	if s.size > 0 && s.size+int64(len(buf)) > int64(s.settings.MaxBytes) {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(buf)
	s.size += int64(n)
	if err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("write %s: %w", s.settings.Path, err)}
	}
	if err := s.f.Sync(); err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("sync %s: %w", s.settings.Path, err)}
	}
	return nil
}

func (s *Sink) open() error {
	if err := os.MkdirAll(filepath.Dir(s.settings.Path), 0o755); err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("create directory of %s: %w", s.settings.Path, err)}
	}
	f, err := os.OpenFile(s.settings.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("open %s: %w", s.settings.Path, err)}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return &sinks.RetryableError{Err: fmt.Errorf("stat %s: %w", s.settings.Path, err)}
	}
	s.f, s.size = f, st.Size()
	return nil
}

// rotate shifts Path.i to Path.i+1, dropping the oldest, moves Path to
// Path.1 and starts a new Path.
func (s *Sink) rotate() error {
	if err := s.f.Close(); err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("close %s: %w", s.settings.Path, err)}
	}
	s.f = nil
	p := s.settings.Path
	keep := s.settings.MaxFiles - 1
	if keep == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &sinks.RetryableError{Err: fmt.Errorf("rotate %s: %w", p, err)}
		}
		return s.open()
	}
	_ = os.Remove(fmt.Sprintf("%s.%d", p, keep))
	for i := keep - 1; i >= 1; i-- {
		if err := os.Rename(fmt.Sprintf("%s.%d", p, i), fmt.Sprintf("%s.%d", p, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return &sinks.RetryableError{Err: fmt.Errorf("rotate %s: %w", p, err)}
		}
	}
	if err := os.Rename(p, p+".1"); err != nil {
		return &sinks.RetryableError{Err: fmt.Errorf("rotate %s: %w", p, err)}
	}
	return s.open()
}

// Close closes the file. It is idempotent.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
