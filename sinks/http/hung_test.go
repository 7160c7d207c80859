package http

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/plugintest"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// hungServer accepts TCP connections and never answers: it reads what the
// client sends and says nothing. It counts the connections, and those the
// client gave up (closed); when answer is set, it answers each request
// read since with 200 instead (a destination that comes back).
type hungServer struct {
	ln net.Listener

	mu       sync.Mutex
	accepted int
	closed   int
	answer   bool
	conns    map[net.Conn]bool
}

func startHungServer(t testing.TB) *hungServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hungServer{ln: ln, conns: map[net.Conn]bool{}}
	go h.serve()
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		for c := range h.conns {
			c.Close()
		}
		h.mu.Unlock()
	})
	return h
}

func (h *hungServer) url() string { return "http://" + h.ln.Addr().String() + "/ingest" }

func (h *hungServer) serve() {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.accepted++
		h.conns[c] = true
		h.mu.Unlock()
		go h.hold(c)
	}
}

// hold reads from c until the client closes it; once answer is set, a
// read request is answered.
func (h *hungServer) hold(c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		h.mu.Lock()
		answer := h.answer
		h.mu.Unlock()
		if n > 0 && answer && strings.Contains(string(buf[:n]), "\r\n\r\n") {
			// One request a read is enough here: the sink sends a small
			// body with its headers.
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
		if err != nil {
			break
		}
	}
	c.Close()
	h.mu.Lock()
	h.closed++
	delete(h.conns, c)
	h.mu.Unlock()
}

func (h *hungServer) counts() (accepted, closed, open int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.accepted, h.closed, len(h.conns)
}

func (h *hungServer) setAnswer(a bool) {
	h.mu.Lock()
	h.answer = a
	h.mu.Unlock()
}

// hungRouter runs a Router with one http sink to h (timeout: timeout) until
// the test ends.
func hungRouter(t testing.TB, h *hungServer, timeout string, retry sinks.RetryPolicy) *sinks.Router {
	t.Helper()
	sp := sinks.Spec{Name: "hung", Type: "http", Encoding: "json"}
	dest := plugintest.NewSink(t, Plugin, sp, "{url: "+h.url()+", timeout: "+timeout+"}")
	r, err := sinks.NewRouter([]sinks.SinkConfig{{Spec: sp, Destination: dest, Batch: sinks.BatchLimits{Timeout: 10 * time.Millisecond}}},
		sinks.Options{DataDir: t.TempDir(), Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// TestHungDestinationIsCutAtTheTimeoutAndRetried: a destination that
// accepts the connection and never answers costs each attempt the sink's
// timeout: the sink gives the request up (closes the connection), says so
// in its state, tries again, and delivers once the destination answers.
func TestHungDestinationIsCutAtTheTimeoutAndRetried(t *testing.T) {
	h := startHungServer(t)
	r := hungRouter(t, h, "500ms", sinks.RetryPolicy{Initial: 20 * time.Millisecond, Max: 50 * time.Millisecond})
	sent := make(chan error, 1)
	go func() { sent <- r.Send(context.Background(), sinks.Batch{Records: sinktest.Numbered(0, 3)}) }()

	sinktest.Eventually(t, 30*time.Second, "three attempts, each given up by the sink", func() error {
		st := r.Sinks()[0]
		if accepted, closed, _ := h.counts(); closed < 3 || st.Retried == 0 || st.State != model.SinkFailing {
			return fmt.Errorf("accepted %d, closed by the sink %d, sink %+v", accepted, closed, st)
		}
		return nil
	})
	// The validation line gives up the same way; the error names the
	// timeout that bounded the request.
	if st := r.Sinks()[0]; !strings.Contains(st.LastError, "Client.Timeout exceeded") {
		t.Errorf("last error %q does not name the timeout", st.LastError)
	}

	h.setAnswer(true)
	if err := <-sent; err != nil {
		t.Fatalf("Send: %v", err)
	}
	sinktest.Eventually(t, 30*time.Second, "the batch delivered once the destination answers", func() error {
		if st := r.Sinks()[0]; st.Sent != 3 || st.State != model.SinkRunning {
			return fmt.Errorf("sink %+v", st)
		}
		return nil
	})
}
