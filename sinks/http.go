package sinks

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/opshub/opshub/outbound"
)

// StatusError is an HTTP answer a destination did not accept.
type StatusError = outbound.StatusError

// IsRetryable reports whether err is worth trying again.
func IsRetryable(err error) bool { return outbound.IsRetryable(err) }

// DefaultHTTPTimeout bounds one request when the sink sets no timeout.
const DefaultHTTPTimeout = 30 * time.Second

// HTTPSettings starts the constructor of a destination that speaks HTTP:
// outbound.PluginClient with the sink's name and DefaultHTTPTimeout.
func HTTPSettings[C any](spec Spec, keys func(*C) outbound.ClientConfig) (C, *http.Client, error) {
	return outbound.PluginClient("sink "+spec.Name, spec.Settings, keys, DefaultHTTPTimeout)
}

// DestinationLogger returns the logger a destination of this spec logs
// through: the spec's, or one that discards when it has none, naming the
// component and the destination type.
func (s Spec) DestinationLogger(destination string) *slog.Logger {
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return logger.With("component", "sinks", "destination", destination)
}
