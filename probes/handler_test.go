package probes

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// targetOf points a probe at a test server's port.
func targetOf(t *testing.T, rawURL string) Target {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return Target{Host: u.Hostname(), Port: port}
}

// closedPort returns a port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestHTTPHandler(t *testing.T) {
	var gotHeader http.Header
	var gotHost string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		gotHeader, gotHost = r.Header.Clone(), r.Host
		fmt.Fprint(w, "all good")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "broken", http.StatusInternalServerError) })
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusServiceUnavailable) })
	mux.HandleFunc("/local-redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://example.invalid/elsewhere")
		w.WriteHeader(http.StatusMovedPermanently)
		fmt.Fprint(w, "moved")
	})
	mux.HandleFunc("/redirect-loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/redirect-loop", http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 64<<10)
		for range 16 { // 1 MiB
			if _, err := fmt.Fprint(w, chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "first ")
		w.(http.Flusher).Flush() // no Content-Length: the body goes chunked
		fmt.Fprint(w, "second")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	target := targetOf(t, srv.URL)

	tests := []struct {
		name       string
		action     HTTPAction
		timeout    time.Duration
		result     Result
		output     string // exact, unless prefix is set
		prefix     bool
		statusCode int
	}{
		{name: "200 passes with the body", action: HTTPAction{Path: "/ok"}, result: Success, output: "all good", statusCode: 200},
		{name: "204 passes", action: HTTPAction{Path: "/nocontent"}, result: Success, output: "", statusCode: 204},
		{name: "500 fails as the kubelet says", action: HTTPAction{Path: "/error"}, result: Failure, output: "HTTP probe failed with statuscode: 500", statusCode: 500},
		{name: "503 fails", action: HTTPAction{Path: "/unavailable"}, result: Failure, output: "HTTP probe failed with statuscode: 503", statusCode: 503},
		{name: "a chunked body is decoded", action: HTTPAction{Path: "/chunked"}, result: Success, output: "first second", statusCode: 200},
		{name: "404 fails", action: HTTPAction{Path: "/missing"}, result: Failure, output: "HTTP probe failed with statuscode: 404", statusCode: 404},
		{name: "a redirect on the same host is followed", action: HTTPAction{Path: "/local-redirect"}, result: Success, output: "all good", statusCode: 200},
		{name: "a redirect to another host is a warning", action: HTTPAction{Path: "/away"}, result: Warning, output: "Probe terminated redirects, Response body: moved", statusCode: 301},
		{name: "a redirect loop fails", action: HTTPAction{Path: "/redirect-loop"}, result: Failure, output: "stopped after 10 redirects", prefix: true},
		{name: "a slow answer times out", action: HTTPAction{Path: "/slow"}, timeout: 200 * time.Millisecond, result: Failure, output: "Client.Timeout exceeded", prefix: true},
		{name: "a refused connection fails", action: HTTPAction{Path: "/", Port: closedPort(t)}, result: Failure, output: "connection refused", prefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.action.Scheme == "" {
				tt.action.Scheme = "HTTP"
			}
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 2 * time.Second
			}
			began := time.Now()
			o := newHTTPHandler(tt.action).Probe(context.Background(), target, timeout)
			if o.Result != tt.result {
				t.Errorf("result %s, want %s (output %q)", o.Result, tt.result, o.Output)
			}
			if tt.prefix && !strings.Contains(o.Output, tt.output) || !tt.prefix && o.Output != tt.output {
				t.Errorf("output %q, want %q", o.Output, tt.output)
			}
			if o.StatusCode != tt.statusCode {
				t.Errorf("status code %d, want %d", o.StatusCode, tt.statusCode)
			}
			if took := time.Since(began); took > timeout+time.Second {
				t.Errorf("took %s with a timeout of %s", took, timeout)
			}
		})
	}

	t.Run("at most 10 KiB of the body is read", func(t *testing.T) {
		o := newHTTPHandler(HTTPAction{Path: "/big", Scheme: "HTTP"}).Probe(context.Background(), target, 2*time.Second)
		if o.Result != Success || len(o.Output) != 10<<10 {
			t.Errorf("result %s with %d bytes of body, want success with 10240", o.Result, len(o.Output))
		}
	})

	t.Run("headers, Host and the default User-Agent", func(t *testing.T) {
		h := newHTTPHandler(HTTPAction{Path: "/ok", Scheme: "HTTP", Headers: map[string]string{"X-Probe": "yes", "Host": "web.example"}})
		if o := h.Probe(context.Background(), target, 2*time.Second); o.Result != Success {
			t.Fatalf("%+v", o)
		}
		if gotHeader.Get("X-Probe") != "yes" || gotHost != "web.example" || gotHeader.Get("User-Agent") != userAgent || gotHeader.Get("Accept") != "*/*" {
			t.Errorf("server saw host %q and headers %v", gotHost, gotHeader)
		}
		if gotHeader.Get("Connection") != "close" {
			t.Errorf("probe connections must not be kept alive: Connection %q", gotHeader.Get("Connection"))
		}
	})

	t.Run("HTTPS without certificate checks", func(t *testing.T) {
		tlsSrv := httptest.NewTLSServer(mux)
		defer tlsSrv.Close()
		h := newHTTPHandler(HTTPAction{Path: "/ok", Scheme: "HTTPS"})
		if o := h.Probe(context.Background(), targetOf(t, tlsSrv.URL), 2*time.Second); o.Result != Success || o.Output != "all good" {
			t.Errorf("%+v", o)
		}
		if got := h.Describe(); got != "https GET :$PORT/ok" {
			t.Errorf("Describe = %q", got)
		}
	})
}

// TestHTTPHandlerRawResponses: responses net/http's server does not send
// are read as net/http's client reads them.
func TestHTTPHandlerRawResponses(t *testing.T) {
	tests := []struct {
		name, response string
		result         Result
		output         string
		prefix         bool
	}{
		{"an informational response is skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Success, "ok", false},
		{"a body up to the close", "HTTP/1.0 200 OK\r\n\r\nuntil the end", Success, "until the end", false},
		{"Content-Length bounds the body", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\n\r\nabcdef", Failure, "HTTP probe failed with statuscode: 503", false},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n", Failure, `Get "http://127.0.0.1:`, true},
		{"no answer at all", "", Failure, "unexpected EOF", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf) // the request
				_, _ = c.Write([]byte(tt.response))
			}()
			o := newHTTPHandler(HTTPAction{Path: "/", Scheme: "HTTP"}).Probe(context.Background(), Target{Port: ln.Addr().(*net.TCPAddr).Port}, 2*time.Second)
			if o.Result != tt.result || (tt.prefix && !strings.Contains(o.Output, tt.output)) || (!tt.prefix && o.Output != tt.output) {
				t.Errorf("got %s %q, want %s %q", o.Result, o.Output, tt.result, tt.output)
			}
		})
	}
}

// acceptingPort is a loopback port that accepts connections and closes
// them at once, until the test ends.
func acceptingPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTCPHandler(t *testing.T) {
	port := acceptingPort(t)
	h := &tcpHandler{}
	if o := h.Probe(context.Background(), Target{Port: port}, time.Second); o.Result != Success {
		t.Errorf("open port: %+v", o)
	}
	o := (&tcpHandler{action: TCPAction{Port: closedPort(t)}}).Probe(context.Background(), Target{Port: 1}, time.Second)
	if o.Result != Failure || !strings.Contains(o.Output, "connection refused") {
		t.Errorf("closed port: %+v", o)
	}
	if got := (&tcpHandler{action: TCPAction{Port: 8080}}).Describe(); got != "tcp :8080" {
		t.Errorf("Describe = %q", got)
	}
}

func TestExecHandler(t *testing.T) {
	dir := t.TempDir()
	env := []string{"PATH=/usr/bin:/bin", "PORT=4321", "GREETING=hello"}
	tests := []struct {
		name    string
		command []string
		timeout time.Duration
		result  Result
		output  string
	}{
		{name: "exit 0 passes with the output", command: []string{"sh", "-c", "echo ok on ${PORT}"}, result: Success, output: "ok on 4321\n"},
		{name: "variables are expanded from the environment", command: []string{"/bin/echo", "${GREETING}"}, result: Success, output: "hello\n"},
		{name: "exit 1 fails with the output", command: []string{"sh", "-c", "echo not ready >&2; exit 1"}, result: Failure, output: "not ready\n"},
		{name: "a silent failure names its exit code", command: []string{"sh", "-c", "exit 3"}, result: Failure, output: "command exited with code 3"},
		{name: "too slow fails as the kubelet says", command: []string{"sleep", "5"}, timeout: 300 * time.Millisecond, result: Failure, output: `command "sleep 5" timed out`},
		{name: "a missing program fails", command: []string{"no-such-program-here"}, result: Failure, output: `exec probe: program "no-such-program-here": not found in PATH`},
		{name: "the working directory is the target's", command: []string{"sh", "-c", "pwd"}, result: Success, output: dir + "\n"},
		{name: "output is capped at 10 KiB", command: []string{"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"}, result: Success, output: strings.Repeat("x", 10<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			began := time.Now()
			o := (&execHandler{action: ExecAction{Command: tt.command}}).Probe(context.Background(), Target{Env: env, Dir: dir}, timeout)
			if o.Result != tt.result || o.Output != tt.output {
				t.Errorf("got %s %q, want %s %q", o.Result, o.Output, tt.result, tt.output)
			}
			if took := time.Since(began); took > timeout+2*time.Second {
				t.Errorf("took %s with a timeout of %s", took, timeout)
			}
		})
	}

	t.Run("a timeout kills the whole process group", func(t *testing.T) {
		pidFile := filepath.Join(dir, "child.pid")
		cmd := []string{"sh", "-c", "sleep 30 & echo $! > " + pidFile + "; wait"}
		o := (&execHandler{action: ExecAction{Command: cmd}}).Probe(context.Background(), Target{Env: env}, 300*time.Millisecond)
		if o.Result != Failure || !strings.HasSuffix(o.Output, "timed out") {
			t.Fatalf("%+v", o)
		}
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid := strings.TrimSpace(string(data))
		deadline := time.Now().Add(5 * time.Second)
		for {
			stat, err := os.ReadFile("/proc/" + pid + "/stat")
			if err != nil || strings.Contains(string(stat), ") Z ") {
				break // gone, or a zombie waiting for init
			}
			if time.Now().After(deadline) {
				t.Fatalf("the probe's child %s outlived the timeout", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestGRPCHandler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	port := ln.Addr().(*net.TCPAddr).Port

	// A gRPC server without the health service.
	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bare := grpc.NewServer()
	go func() { _ = bare.Serve(bareLn) }()
	defer bare.Stop()

	tests := []struct {
		name   string
		action GRPCAction
		port   int
		result Result
		output string
		prefix bool
	}{
		{name: "SERVING passes", port: port, result: Success, output: "service healthy"},
		{name: "NOT_SERVING fails", action: GRPCAction{Service: "db"}, port: port, result: Failure, output: `service unhealthy (responded with "NOT_SERVING")`},
		{name: "an unknown service fails", action: GRPCAction{Service: "nope"}, port: port, result: Failure, output: "error: health rpc probe failed: ", prefix: true},
		{name: "a server without the health service fails", port: bareLn.Addr().(*net.TCPAddr).Port, result: Failure,
			output: "error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ", prefix: true},
		{name: "a refused connection fails", port: closedPort(t), result: Failure, output: "error: failed to connect service at ", prefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := (&grpcHandler{action: tt.action}).Probe(context.Background(), Target{Port: tt.port}, 2*time.Second)
			if o.Result != tt.result || (tt.prefix && !strings.HasPrefix(o.Output, tt.output)) || (!tt.prefix && o.Output != tt.output) {
				t.Errorf("got %s %q, want %s %q", o.Result, o.Output, tt.result, tt.output)
			}
		})
	}

	t.Run("a status change is seen by the next run", func(t *testing.T) {
		hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
		defer hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		if o := (&grpcHandler{}).Probe(context.Background(), Target{Port: port}, 2*time.Second); o.Result != Failure {
			t.Errorf("%+v", o)
		}
	})
}

func TestUnhealthyMessage(t *testing.T) {
	tests := []struct {
		t    Type
		o    Outcome
		want string
	}{
		{Liveness, Outcome{Result: Failure, Output: "HTTP probe failed with statuscode: 500"}, "Liveness probe failed: HTTP probe failed with statuscode: 500"},
		{Readiness, Outcome{Result: Warning, Output: "Probe terminated redirects, Response body: x"}, "Readiness probe warning: Probe terminated redirects, Response body: x"},
		{Startup, Outcome{Result: Failure, Output: "dial tcp 127.0.0.1:1: connect: connection refused"}, "Startup probe failed: dial tcp 127.0.0.1:1: connect: connection refused"},
		{Liveness, Outcome{Result: Success, Output: "ok"}, ""},
	}
	for _, tt := range tests {
		if got := UnhealthyMessage(tt.t, tt.o); got != tt.want {
			t.Errorf("UnhealthyMessage(%s, %+v) = %q, want %q", tt.t, tt.o, got, tt.want)
		}
	}
}

// TestProbesTimeOutOnAHandshakeThatHangs: a listener whose accept queue is
// full drops new handshakes, so the connection stays pending; TCP and HTTP
// probes give up at their timeout with the kubelet's words.
func TestProbesTimeOutOnAHandshakeThatHangs(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // never accepted: the queue fills at once
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	var fill []net.Conn
	defer func() {
		for _, c := range fill {
			c.Close()
		}
	}()
	for range 4 {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
		if err != nil {
			break // the queue is full
		}
		fill = append(fill, c)
	}

	began := time.Now()
	o := (&tcpHandler{}).Probe(context.Background(), Target{Port: port}, 300*time.Millisecond)
	if o.Result != Failure || !strings.HasSuffix(o.Output, "i/o timeout") || time.Since(began) > 2*time.Second {
		t.Errorf("tcp: %+v after %s", o, time.Since(began))
	}
	began = time.Now()
	o = newHTTPHandler(HTTPAction{Path: "/", Scheme: "HTTP"}).Probe(context.Background(), Target{Port: port}, 300*time.Millisecond)
	if o.Result != Failure || !strings.Contains(o.Output, "Client.Timeout exceeded") || time.Since(began) > 2*time.Second {
		t.Errorf("http: %+v after %s", o, time.Since(began))
	}
}
