package sinktest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"
	"time"
)

// Server is a server binary a test started (Prometheus, Alertmanager, …).
type Server struct{ p *process }

// StartServer starts cmd in its own process group, its output kept, and
// waits up to timeout until ready holds; the test fails if the server
// exits first or is not ready in time. The server is stopped (SIGTERM,
// then SIGKILL) when the test ends, and its output shown if the test
// failed.
func StartServer(t testing.TB, name string, cmd *exec.Cmd, timeout time.Duration, ready func() bool) *Server {
	t.Helper()
	s := &Server{p: startProcess(t, name, cmd)}
	t.Cleanup(func() { s.stop(t) })
	s.p.waitFor(t, timeout, ready)
	return s
}

// StartListening is StartServer for a server that listens on a loopback
// address FreeAddr picks, which command puts on its command line or in its
// config: when a parallel test takes the port before the server binds it,
// the server is started again on another one. It returns the server and the
// address it listens on.
func StartListening(t testing.TB, name string, timeout time.Duration,
	command func(addr string) *exec.Cmd, ready func(addr string) bool) (*Server, string) {
	t.Helper()
	s := &Server{}
	t.Cleanup(func() { s.stop(t) })
	var addr string
	s.p, addr = startListening(t, name, "", timeout, command, func(_ *process, addr string) bool { return ready(addr) })
	return s, addr
}

// stop stops the server and shows its output if the test failed.
func (s *Server) stop(t testing.TB) {
	if s.p == nil {
		return
	}
	s.p.stop(t)
	if t.Failed() {
		t.Logf("%s output:\n%s", s.p.name, s.p.out.String())
	}
}

// Output is what the server wrote so far.
func (s *Server) Output() string { return s.p.out.String() }

// HTTPReady is a readiness check for StartServer: url answers 200.
func HTTPReady(url string) func() bool {
	return func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
}

// Answering starts an HTTP server on loopback that answers every request
// with status, the headers in header and body; it stops when the test ends.
func Answering(t testing.TB, status int, header map[string]string, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}
