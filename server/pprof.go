package server

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoutes serves the Go runtime's profiles at /debug/pprof/ (the
// index, and each profile by name: cpu as profile?seconds=N, heap,
// goroutine, allocs, block, mutex, threadcreate; trace), for tokens with
// the admin scope: a profile shows the process's code and costs CPU while
// it runs.
func pprofRoutes(handle func(pattern, name string, scope Scope, h http.HandlerFunc)) {
	handle("GET /debug/pprof/", "pprof", ScopeAdmin, pprof.Index)
	handle("GET /debug/pprof/cmdline", "pprof", ScopeAdmin, pprof.Cmdline)
	handle("GET /debug/pprof/profile", "pprof", ScopeAdmin, pprof.Profile)
	handle("GET /debug/pprof/symbol", "pprof", ScopeAdmin, pprof.Symbol)
	handle("GET /debug/pprof/trace", "pprof", ScopeAdmin, pprof.Trace)
}
