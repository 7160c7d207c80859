// Package sinktest starts the real servers the sink destination tests talk
// to (VictoriaLogs, MinIO, rsyslog, an SMTP server), and the OCI registry
// the image tests push to, on free loopback ports in temporary
// directories, and stops them when the test ends.
//
// It is for tests and the bench programs only and must not be imported by
// product code. A server binary that is missing makes the test skip with
// the reason outside CI and fail inside CI, where `make tools` and
// .ci/deps.d/sinks.sh must have installed it.
package sinktest
