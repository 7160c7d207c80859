// Package datadog is the sink destination that sends log records to
// Datadog's logs intake (HTTP API v2) for the configured site, mapping
// opshub's names onto Datadog's reserved attributes (ddsource, service,
// hostname, ddtags, status). Request bodies are gzipped unless the sink
// says compression: none.
//
// It keeps to the intake's documented limits by splitting a batch into
// several requests (at most 1000 logs and 5 MB per request) and by cutting a
// single log down to 1 MB with a marker. It must not retry or buffer by
// itself: a batch it could send only in part is reported as a
// sinks.PartialError naming the records still to send.
package datadog
