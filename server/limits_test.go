package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// serve runs s on a loopback port until the test ends and returns its
// address.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// A client sending its request one byte a second is cut off once the
// header timeout has passed, however long it keeps trickling.
func TestSlowClientIsCutAtTheHeaderTimeout(t *testing.T) {
	const headerTimeout = 2 * time.Second
	addr := serve(t, newTestServer(t, Options{Limits: Limits{ReadHeaderTimeout: headerTimeout}}))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		// The server answers nothing before the headers end: the read
		// returns when it closes the connection.
		_, _ = io.Copy(io.Discard, conn)
		closed <- time.Since(start)
	}()
	request := "GET /healthz HTTP/1.1\r\nHost: opshub\r\nX-Slow: " + strings.Repeat("a", 60)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case held := <-closed:
			if held > headerTimeout+2*time.Second {
				t.Fatalf("the connection was held %s, the header timeout is %s", held, headerTimeout)
			}
			// The server's clock starts as it accepts, a little before ours.
			if held < headerTimeout-250*time.Millisecond {
				t.Fatalf("the connection was closed after %s, before the header timeout %s", held, headerTimeout)
			}
			return
		case <-tick.C:
			if i >= len(request) || time.Since(start) > 5*headerTimeout {
				t.Fatalf("the server still holds the connection after %s of one byte a second", time.Since(start))
			}
			// The write fails once the server closed; the reader says when.
			_, _ = conn.Write([]byte{request[i]})
		}
	}
}

// Each route takes a body up to its limit and answers 413 beyond it,
// whether the client announces the length or streams the body chunked.
func TestRequestBodyLimits(t *testing.T) {
	h := newTestServer(t, Options{}).Handler()
	tests := []struct {
		name, method, path string
		size               int
		chunked            bool
		want               int
	}{
		{"deploy within its 1 MiB", "POST", "/api/v1/services/demo/web/deploy", 900 << 10, false, http.StatusNotImplemented},
		{"deploy beyond 1 MiB", "POST", "/api/v1/services/demo/web/deploy", 1<<20 + 1, false, http.StatusRequestEntityTooLarge},
		{"scale beyond 64 KiB", "POST", "/api/v1/services/demo/web/scale", 64<<10 + 1, false, http.StatusRequestEntityTooLarge},
		{"scale beyond 64 KiB, chunked", "POST", "/api/v1/services/demo/web/scale", 64<<10 + 1, true, http.StatusRequestEntityTooLarge},
		{"a GET with a body beyond 4 KiB", "GET", "/api/v1/services", 4<<10 + 1, false, http.StatusRequestEntityTooLarge},
		{"a GET with a small body", "GET", "/api/v1/services", 100, false, http.StatusOK},
		{"an unknown endpoint", "POST", "/api/v1/nothing", 5 << 10, true, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(strings.Repeat("x", tt.size))
			if tt.chunked {
				body = io.MultiReader(body) // hides the length
			}
			req := httptest.NewRequest(tt.method, tt.path, body)
			if tt.chunked {
				req.ContentLength = -1
			}
			req.RemoteAddr = "127.0.0.1:5555"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == http.StatusRequestEntityTooLarge && !strings.Contains(rec.Body.String(), "request body larger than") {
				t.Fatalf("413 without the reason: %s", rec.Body)
			}
		})
	}
}

// A log query beyond the bounds is refused with a 400 that names the
// parameter and the bound.
func TestLogQueryBounds(t *testing.T) {
	h := newTestServer(t, Options{Logs: &fakeLogs{}, Limits: Limits{MaxQueryRange: 24 * time.Hour, MaxFilterBytes: 16}}).Handler()
	tests := []struct {
		name, query, field, says string
	}{
		{"a long regex", "regexIncludes=" + strings.Repeat("a", 17), "regexIncludes", "at most 16"},
		{"a long text filter", "textNotIncludes=" + strings.Repeat("a", 17), "textNotIncludes", "at most 16"},
		{"a range too wide", "from=2026-11-01T00:00:00Z&to=2026-11-24T00:00:00Z", "from", "at most 24h0m0s"},
		{"since too far back", "since=25h", "since", "at most 24h0m0s"},
		{"to before from", "from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z", "to", "before from"},
		{"too many lines", "limit=10001", "limit", "between 1 and 10000"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/v1/logs", "/api/v1/logs/tail"} {
			t.Run(tt.name+" "+path, func(t *testing.T) {
				rec := do(t, h, "GET", path+"?project=demo&service=web&"+tt.query, "127.0.0.1:5555", "")
				var e apiError
				_ = json.Unmarshal(rec.Body.Bytes(), &e)
				if rec.Code != http.StatusBadRequest || e.Field != tt.field || !strings.Contains(e.Error, tt.says) {
					t.Fatalf("status %d, %+v; want 400 on %s saying %q", rec.Code, e, tt.field, tt.says)
				}
			})
		}
	}
	if rec := do(t, h, "GET", "/api/v1/logs?project=demo&service=web&since=23h&regexIncludes=5..", "127.0.0.1:5555", ""); rec.Code != http.StatusOK {
		t.Fatalf("a query within the bounds: status %d: %s", rec.Code, rec.Body)
	}
}

// heldTails holds every tail open until its client leaves, and sends a
// line after a while.
type heldTails struct{ after time.Duration }

func (heldTails) Query(context.Context, collector.Query) ([]model.LogRecord, error) { return nil, nil }

func (h heldTails) Follow(ctx context.Context, _ collector.Query, send func(model.LogRecord) error) error {
	if h.after > 0 {
		select {
		case <-time.After(h.after):
			if err := send(model.LogRecord{Time: time.Now(), Stream: "stdout", Log: "a line after a while"}); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	<-ctx.Done()
	return ctx.Err()
}

// openTail starts a live tail with token and returns its status and, when
// it is open, a function that closes it.
func openTail(t *testing.T, base, token string) (int, string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/logs/tail?project=demo&service=web", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return resp.StatusCode, string(body), nil
	}
	var once sync.Once
	return resp.StatusCode, "", func() { once.Do(func() { cancel(); resp.Body.Close() }) }
}

// Live tails are bounded per client (a token) and in all, with 429 and the
// limit's name beyond; a closed tail frees its slot.
func TestLiveTailLimits(t *testing.T) {
	tokens := []Token{{Name: "ann", Value: "ann-token", Scopes: []Scope{ScopeRead}}, {Name: "bob", Value: "bob-token", Scopes: []Scope{ScopeRead}},
		{Name: "cid", Value: "cid-token", Scopes: []Scope{ScopeRead}}}
	s := newTestServer(t, Options{Logs: heldTails{}, Tokens: tokens, Limits: Limits{MaxTails: 2, MaxTailsPerClient: 1}})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close) // last: after the tails below are closed

	code, _, closeAnn := openTail(t, ts.URL, "ann-token")
	if code != http.StatusOK {
		t.Fatalf("first tail: %d", code)
	}
	t.Cleanup(closeAnn)
	if code, body, _ := openTail(t, ts.URL, "ann-token"); code != http.StatusBadRequest || !strings.Contains(body, "maxTailsPerClient") {
		t.Fatalf("ann's second tail: %d %s, want 400 naming maxTailsPerClient", code, body)
	}
	code, _, closeBob := openTail(t, ts.URL, "bob-token")
	if code != http.StatusOK {
		t.Fatalf("bob's tail: %d", code)
	}
	t.Cleanup(closeBob)
	if code, body, _ := openTail(t, ts.URL, "cid-token"); code != http.StatusTooManyRequests || !strings.Contains(body, "(server.limits.maxTails)") {
		t.Fatalf("a third tail: %d %s, want 429 naming maxTails", code, body)
	}
	closeAnn()
	// The slot is freed when the server sees the client gone.
	sinktest.Eventually(t, 10*time.Second, "cid's tail after ann's closed", func() error {
		code, body, closeCid := openTail(t, ts.URL, "cid-token")
		if code != http.StatusOK {
			return fmt.Errorf("cid gets %d %s", code, body)
		}
		closeCid()
		return nil
	})
}

// A live tail outlives the read and write timeouts that bound ordinary
// requests: they would otherwise cut it.
func TestLiveTailOutlivesTheRequestTimeouts(t *testing.T) {
	s := newTestServer(t, Options{Logs: heldTails{after: 2500 * time.Millisecond}, Limits: Limits{ReadTimeout: time.Second, WriteTimeout: time.Second}})
	addr := serve(t, s)
	resp, err := http.Get("http://" + addr + "/api/v1/logs/tail?project=demo&service=web")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, "a line after a while") {
		t.Fatalf("read %q, %v; want the line sent after both timeouts", line, err)
	}
	// An ordinary request on the same server is answered as before.
	if resp, err := http.Get("http://" + addr + "/api/v1/services"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("services: %v %v", resp, err)
	}
}

// The UI's pages carry a Content-Security-Policy (set by package ui) that
// allows no inline script, and the page holds none.
func TestUIContentSecurityPolicy(t *testing.T) {
	h := newTestServer(t, Options{UI: true}).Handler()
	rec := do(t, h, "GET", "/", "127.0.0.1:5555", "")
	csp := rec.Header().Get("Content-Security-Policy")
	// Scripts follow script-src, or default-src without it.
	var script string
	for _, name := range []string{"default-src", "script-src"} {
		for _, d := range strings.Split(csp, ";") {
			if f := strings.Fields(d); len(f) > 0 && f[0] == name {
				script = d
			}
		}
	}
	if script == "" || strings.Contains(script, "unsafe-inline") || strings.Contains(script, "unsafe-eval") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	page := rec.Body.String()
	for rest := page; ; {
		i := strings.Index(rest, "<script")
		if i < 0 {
			break
		}
		tag := rest[i : i+strings.Index(rest[i:], ">")]
		if !strings.Contains(tag, "src=") {
			t.Fatalf("the page has an inline script: %s", tag)
		}
		rest = rest[i+len(tag):]
	}
	if !strings.Contains(page, "<script") {
		t.Fatalf("no script in the page %q", page)
	}
}

func TestIsLongLivedPath(t *testing.T) {
	for path, want := range map[string]bool{
		"/api/v1/logs/tail": true,
		"/api/v1/services/demo/web/instances/web-1/exec":    true,
		"/api/v1/services/demo/web/instances/web-1/forward": true,
		"/api/v1/logs":                false,
		"/api/v1/services/demo/web":   false,
		"/api/v1/services/exec":       false,
		"/api/v1/logs/tail/../../x":   false,
		"/api/v1/jobs/demo/exec/runs": false,
	} {
		if got := isLongLivedPath(path); got != want {
			t.Errorf("isLongLivedPath(%q) = %v, want %v", path, got, want)
		}
	}
}

// echoPort is an instance port that sends back what it receives.
type echoPort struct{ platform.Execer }

func (echoPort) DialInstance(context.Context, platform.Target, int) (io.ReadWriteCloser, error) {
	ours, theirs := net.Pipe()
	go func() {
		defer theirs.Close()
		_, _ = io.Copy(theirs, theirs)
	}()
	return ours, nil
}

// A forward (a WebSocket, as exec is) outlives the read and write
// timeouts of ordinary requests: traffic after both have passed still
// flows.
func TestForwardOutlivesTheRequestTimeouts(t *testing.T) {
	s := newTestServer(t, Options{Exec: ExecOptions{Execer: echoPort{}}, Limits: Limits{ReadTimeout: time.Second, WriteTimeout: time.Second}})
	addr := serve(t, s)
	c, err := client.New("http://"+addr, "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := c.Forward(context.Background(), "demo", "web", "web-7f9c-0", 8080)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, msg := range []string{"before the timeouts", "after the timeouts"} {
		if msg == "after the timeouts" {
			// Waiting out the server's deadlines is what is tested.
			time.Sleep(2500 * time.Millisecond)
		}
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatalf("write %q: %v", msg, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != msg {
			t.Fatalf("read %q, %v; want %q", got, err, msg)
		}
	}
}
