package sinks

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// StatusError is an HTTP answer a destination did not accept.
type StatusError struct {
	Code int
	// Body is the start of the response body, for the reason in logs and
	// the dead-letter file.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

// maxErrorBody bounds how much of a refusal is kept as its reason.
const maxErrorBody = 512

// CheckResponse classifies a response for Deliver: nil for 2xx; a
// *RetryableError for 408, 429 and 5xx (with Retry-After honoured on 429 and
// 503); a *StatusError for any other code. It reads at most a little of the
// body of a refusal and leaves closing the body to the caller. now is the
// time Retry-After given as a date is measured from.
func CheckResponse(resp *http.Response, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	serr := &StatusError{Code: resp.StatusCode, Body: strings.TrimSpace(string(body))}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return &RetryableError{Err: serr, RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now)}
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return &RetryableError{Err: serr}
	}
	return serr
}

// ParseRetryAfter reads a Retry-After header: seconds or an HTTP date. It
// returns zero when the header is missing, malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// IsRetryable reports whether err is worth trying again.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// DefaultHTTPTimeout bounds one request when the sink sets no timeout.
const DefaultHTTPTimeout = 30 * time.Second
