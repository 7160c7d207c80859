// Package outbound owns opshub's outbound HTTP: building a client from the
// settings plugins share (auth, TLS with client certificates and a minimum
// version, headers, timeout, proxy) through Prometheus' HTTP client config,
// classifying an answer as delivered, worth retrying or refused, reading
// Retry-After, and the exponential back-off with jitter every retrying
// caller uses. Log sinks, notifiers and remote write build on it so that all
// of them treat a failure the same way.
//
// It must not retry, sleep or queue by itself: callers own their loops and
// ask this package only how long to wait.
package outbound
