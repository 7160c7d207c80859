// Package metrics keeps opshub's container metrics: it turns what a source
// reads (raw counters and gauges of each container) into rates, keeps every
// series in an in-memory ring (at least an hour at the scrape interval),
// aggregates series per service, answers queries for the API, and exposes
// the latest values per container on /metrics through Exposition, a
// prometheus.Collector that builds constant metrics at each scrape, so a
// container's series go away with it.
//
// It must not know how a platform reads its numbers: sources (metrics/procfs
// on one machine, metrics/kubelet on a node) implement Source, and other
// producers (the collector's log line rates) call Store.Add. It keeps no
// state on disk.
package metrics
