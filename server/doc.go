// Package server is opshub's HTTP front: health endpoints, the Prometheus
// exposition, and the JSON API under /api/v1 that the CLI, the web UI and
// scripts use.
//
// It owns routing, authentication (bearer tokens with scopes, or loopback-only
// when no tokens are configured), error bodies and request metrics. It reads
// domain state only through the small interfaces in Options and never decides
// anything itself: every answer comes from the package that owns the data.
package server
