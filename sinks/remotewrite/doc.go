// Package remotewrite forwards container metric samples to anything that
// speaks Prometheus' remote write protocol (version 1: a snappy-compressed
// protobuf WriteRequest): Prometheus with its receiver enabled, Mimir,
// Thanos, VictoriaMetrics, Grafana Cloud.
//
// A Writer sends one batch and classifies the answer; a Forwarder queues the
// scraper's samples in a bounded queue and sends them in the background,
// dropping the oldest batches (counted) when the destination falls behind,
// so that scraping never waits for the network. It must not retry forever:
// a batch that keeps failing past its retries is dropped and counted.
package remotewrite
