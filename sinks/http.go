package sinks

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// HTTPPoster is the part of a destination that posts each batch in HTTP
// requests: the client HTTPSettings built, and the clock a Retry-After date
// is measured from. A destination embeds it for Post and Close.
type HTTPPoster struct {
	Client *http.Client
	Now    func() time.Time
}

// Post sends body to url with header (and User-Agent: opshub). A network
// failure is a *RetryableError; an answer other than 2xx is what
// outbound.CheckResponse makes of it. what names the request in errors
// ("loki push"). read, when not nil, reads a 2xx answer's body and returns
// the outcome; the rest of the body is drained so that the connection is
// reused.
func (p HTTPPoster) Post(ctx context.Context, what, url string, header http.Header, body []byte, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "opshub")
	resp, err := p.Client.Do(req)
	if err != nil {
		return &RetryableError{Err: fmt.Errorf("%s: %w", what, err)}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	// The error is returned as it is: the sinks machinery branches on its
	// type and names the sink when it logs it.
	if err := outbound.CheckResponse(resp, p.Now()); err != nil || read == nil {
		return err
	}
	return read(resp.Body)
}

// Close releases idle connections. It is safe to call more than once.
func (p HTTPPoster) Close() error {
	p.Client.CloseIdleConnections()
	return nil
}
