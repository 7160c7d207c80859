package sinks

import (
	"time"

	"github.com/opshub/opshub/outbound"
)

// StatusError is an HTTP answer a destination did not accept.
type StatusError = outbound.StatusError

// IsRetryable reports whether err is worth trying again.
func IsRetryable(err error) bool { return outbound.IsRetryable(err) }

// DefaultHTTPTimeout bounds one request when the sink sets no timeout.
const DefaultHTTPTimeout = 30 * time.Second
