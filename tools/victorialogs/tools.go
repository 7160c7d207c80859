//go:build tools

// Package tools pins the VictoriaLogs server built by `make tools`.
package tools

import _ "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-logs"
