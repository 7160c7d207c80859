package probes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkHTTPProbe is one HTTP probe run against a local server: a new
// connection, the GET, the response and the close. The server's work is in
// the same process here; bench/probes measures the prober alone against
// opshub-demo processes.
func BenchmarkHTTPProbe(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	h := newHTTPHandler(HTTPAction{Path: "/healthz", Scheme: "HTTP"})
	target := Target{Port: srv.Listener.Addr().(*net.TCPAddr).Port}
	b.ReportAllocs()
	for b.Loop() {
		if o := h.Probe(context.Background(), target, time.Second); o.Result != Success {
			b.Fatalf("%+v", o)
		}
	}
}

// BenchmarkTCPProbe is one TCP probe run: connect and close.
func BenchmarkTCPProbe(b *testing.B) {
	port := acceptingPort(b)
	h := &tcpHandler{}
	target := Target{Port: port}
	b.ReportAllocs()
	for b.Loop() {
		if o := h.Probe(context.Background(), target, time.Second); o.Result != Success {
			b.Fatalf("%+v", o)
		}
	}
}
