package outbound

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RetryableError is a failure worth trying again: a network failure, or an
// answer of 408, 429 or 5xx.
type RetryableError struct {
	Err error
	// RetryAfter is the wait the destination asked for (Retry-After, or a
	// field of its own answer); zero when it did not say.
	RetryAfter time.Duration
}

func (e *RetryableError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%v (retry after %s)", e.Err, e.RetryAfter)
	}
	return e.Err.Error()
}

func (e *RetryableError) Unwrap() error { return e.Err }

// IsRetryable reports whether err is worth trying again.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// RetryAfterOf returns the wait a retryable err asked for, and whether err
// is retryable at all.
func RetryAfterOf(err error) (time.Duration, bool) {
	var r *RetryableError
	if errors.As(err, &r) {
		return r.RetryAfter, true
	}
	return 0, false
}

// StatusError is an HTTP answer the destination did not accept.
type StatusError struct {
	Code int
	// Body is the start of the response body, for the reason in logs, the
	// delivery history and the dead-letter file.
	Body string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body)
}

// MaxErrorBody bounds how much of a refusal is kept as its reason.
const MaxErrorBody = 512

// Retryable reports whether an HTTP status is worth trying again: 408, 429
// and every 5xx. Every caller classifies with it, so that a sink, a notifier
// and remote write treat the same answer the same way.
func Retryable(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// Classify turns an answer into the error a sink or notifier returns: nil
// for 2xx; a *RetryableError wrapping a *StatusError for 408, 429 and 5xx,
// with the Retry-After header's wait; a *StatusError for any other code.
// body is (the start of) the answer's body; now is what a Retry-After date
// is measured from.
func Classify(code int, header http.Header, body []byte, now time.Time) error {
	if code >= 200 && code < 300 {
		return nil
	}
	serr := &StatusError{Code: code, Body: Snippet(body)}
	if Retryable(code) {
		return &RetryableError{Err: serr, RetryAfter: ParseRetryAfter(header.Get("Retry-After"), now)}
	}
	return serr
}

// CheckResponse is Classify for a response whose body the caller has not
// read: it reads at most MaxErrorBody bytes of a refusal and leaves closing
// the body to the caller.
func CheckResponse(resp *http.Response, now time.Time) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBody))
	return Classify(resp.StatusCode, resp.Header, body, now)
}

// NetworkError marks a failure to reach the destination as retryable.
func NetworkError(err error) error {
	return &RetryableError{Err: err}
}

// ParseRetryAfter reads a Retry-After header: seconds (fractions accepted)
// or an HTTP date. It returns zero when the header is missing, malformed
// (NaN and infinities included) or in the past, and at most MaxRetryAfter.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// Compared before converting: a float beyond the range of a
		// Duration converts to a negative one.
		switch {
		case !(secs > 0): // also NaN
			return 0
		case secs >= MaxRetryAfter.Seconds():
			return MaxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), MaxRetryAfter)
	}
	return 0
}

// MaxRetryAfter bounds the wait a destination may ask for: a Retry-After
// of days (or a broken one) would otherwise stall a sink or a notifier that
// long.
const MaxRetryAfter = time.Hour

// Snippet shortens a body for messages and the delivery history.
func Snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > MaxErrorBody {
		// Cut at the start of a rune, so that the reason stays UTF-8.
		cut := MaxErrorBody
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	return s
}

// Backoff is exponential back-off: Initial after the first failure,
// doubling up to Max.
type Backoff struct {
	Initial, Max time.Duration
}

// Wait is the wait after attempt failures (1 for the first): the step
// scaled by jitter (callers draw it from their own range, such as 0.5–1 or
// 0.8–1.2), and never less than the destination's retryAfter.
func (b Backoff) Wait(attempt int, retryAfter time.Duration, jitter float64) time.Duration {
	step := b.Initial
	for i := 1; i < attempt && step < b.Max; i++ {
		step *= 2
	}
	step = min(step, b.Max)
	return max(time.Duration(float64(step)*jitter), retryAfter)
}
