// Package loki is the sink destination that pushes log records to Grafana
// Loki (or anything speaking its push API, such as VictoriaLogs) in Loki's
// protobuf wire format, compressed with snappy.
//
// It groups records into streams by a bounded set of labels (project,
// service, container, stream, plus the label keys the user promotes), sends
// every other field as structured metadata, and orders entries by time within
// each stream. It must not retry, buffer or drop records by itself: the sinks
// package owns that, and Deliver only classifies what the server said.
package loki
