// Package syslog is the sink destination that sends log records as syslog
// messages: RFC 5424 (or the older RFC 3164) over TCP with octet-counting
// framing (RFC 6587), over TLS (RFC 5425, which is what Papertrail's
// host:port takes), or over UDP (RFC 5426).
//
// The severity comes from the stream (stderr is error, stdout info), the
// APP-NAME from the service, and structured data carries the project,
// instance and container. It keeps one connection and must not retry or
// buffer by itself: a failed write closes the connection and reports the
// whole batch as retryable (syslog over TCP has no acknowledgements, so a
// batch cut off mid-write may arrive twice, never not at all).
package syslog
