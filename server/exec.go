package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/internal/execwire"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/platform"
)

// Defaults of ExecOptions.
const (
	DefaultExecIdleTimeout    = 30 * time.Minute
	DefaultExecMaxPerInstance = 8
)

// ExecOptions configures the exec and forward endpoints.
type ExecOptions struct {
	// Execer runs the commands and opens the connections; nil answers 501.
	Execer platform.Execer
	// IdleTimeout ends a session in which nothing moved either way for so
	// long; default DefaultExecIdleTimeout.
	IdleTimeout time.Duration
	// MaxPerInstance bounds the sessions (exec and forward together) open
	// to one instance; default DefaultExecMaxPerInstance.
	MaxPerInstance int
	// Origins are the hosts (host:port) besides the request's own Host
	// that a browser page may open a session from: the external URL's
	// host behind a proxy.
	Origins []string
}

// execSessionLimit caps one WebSocket message a client sends (stdin chunks,
// resize messages, forwarded bytes).
const execReadLimit = 1 << 20

// callerKey carries the name of whoever was authorized (a token's name, or
// "loopback") in a request's context.
type callerKey struct{}

func withCaller(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, callerKey{}, who)
}

func callerOf(r *http.Request) string {
	who, _ := r.Context().Value(callerKey{}).(string)
	return who
}

// websocketToken finds a bearer token offered as a subprotocol of a
// WebSocket upgrade (execwire.TokenProtocol): browsers cannot send an
// Authorization header with a WebSocket.
func websocketToken(r *http.Request) (string, bool) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return "", false
	}
	for _, p := range websocketProtocols(r) {
		if t, ok := execwire.TokenFromProtocol(p); ok {
			return t, true
		}
	}
	return "", false
}

func websocketProtocols(r *http.Request) []string {
	var out []string
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// execSessions counts the open sessions per instance and the sessions'
// metrics.
type execSessions struct {
	mu   sync.Mutex
	open map[string]int // project/service/instance → sessions

	started  *prometheus.CounterVec
	refused  *prometheus.CounterVec
	active   *prometheus.GaugeVec
	duration *prometheus.HistogramVec
}

func newExecSessions() *execSessions {
	return &execSessions{
		open: map[string]int{},
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_exec_sessions_total",
			Help: "Exec (exec, shell) and forward sessions started, by kind.",
		}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "opshub_exec_sessions_refused_total",
			Help: "Exec and forward sessions refused before they started, by kind and reason (limit, not_running, not_found, origin, bad_request).",
		}, []string{"kind", "reason"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "opshub_exec_sessions_active",
			Help: "Exec and forward sessions open now, by kind.",
		}, []string{"kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "opshub_exec_session_duration_seconds",
			Help:    "How long exec and forward sessions lasted, by kind.",
			Buckets: []float64{0.1, 1, 10, 60, 300, 1800, 7200},
		}, []string{"kind"}),
	}
}

func (e *execSessions) collectors() []prometheus.Collector {
	return []prometheus.Collector{e.started, e.refused, e.active, e.duration}
}

// acquire takes one of the instance's session slots.
func (e *execSessions) acquire(key string, limit int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.open[key] >= limit {
		return false
	}
	e.open[key]++
	return true
}

func (e *execSessions) release(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.open[key]--; e.open[key] <= 0 {
		delete(e.open, key)
	}
}

// sessionTarget is what both endpoints read from the path.
func sessionTarget(r *http.Request) platform.Target {
	return platform.Target{
		Project:   r.PathValue("project"),
		Service:   r.PathValue("service"),
		Instance:  r.PathValue("instance"),
		Container: r.URL.Query().Get("container"),
	}
}

// openSession does what exec and forward share before the upgrade: the
// origin check, the instance's state and the session limit. It answers the
// refusal itself and returns ok=false; otherwise the caller must call the
// returned release when the session ends.
func (s *Server) openSession(w http.ResponseWriter, r *http.Request, kind string, t platform.Target) (release func(), ok bool) {
	refuse := func(code int, reason, msg, field string) (func(), bool) {
		s.exec.refused.WithLabelValues(kind, reason).Inc()
		writeError(w, code, msg, field)
		return nil, false
	}
	if s.opts.Exec.Execer == nil {
		return refuse(http.StatusNotImplemented, "bad_request", kind+" is not available on this server", "")
	}
	if err := s.checkOrigin(r); err != nil {
		return refuse(http.StatusForbidden, "origin", err.Error(), "")
	}
	svc, err := s.opts.Services.Service(r.Context(), t.Project, t.Service)
	switch {
	case errors.Is(err, platform.ErrNotFound):
		return refuse(http.StatusNotFound, "not_found", fmt.Sprintf("service %s/%s not found", t.Project, t.Service), "service")
	case err != nil:
		return refuse(http.StatusInternalServerError, "not_found", "get service: "+err.Error(), "")
	}
	var in *model.Instance
	for i := range svc.Instances {
		if svc.Instances[i].Name == t.Instance {
			in = &svc.Instances[i]
		}
	}
	if in == nil {
		return refuse(http.StatusNotFound, "not_found", fmt.Sprintf("service %s/%s has no instance %q", t.Project, t.Service, t.Instance), "instance")
	}
	if in.Status != model.StatusRunning && in.Status != model.StatusStarting {
		return refuse(http.StatusConflict, "not_running", (&platform.NotRunningError{Instance: in.Name, Status: string(in.Status)}).Error(), "instance")
	}
	key := t.Project + "/" + t.Service + "/" + t.Instance
	limit := s.opts.Exec.MaxPerInstance
	if !s.exec.acquire(key, limit) {
		return refuse(http.StatusTooManyRequests, "limit", fmt.Sprintf("instance %s already has %d exec and forward sessions, the most allowed (server.exec.maxPerInstance)", t.Instance, limit), "")
	}
	var once sync.Once
	return func() { once.Do(func() { s.exec.release(key) }) }, true
}

// checkOrigin refuses a WebSocket opened by a page of another site: a
// browser sends its cookies and, without tokens, a loopback address would
// let any page a local user visits run commands. Clients that are not
// browsers send no Origin.
func (s *Server) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("origin %q is not a URL with a host; a session must come from opshub's own pages", origin)
	}
	if strings.EqualFold(u.Host, r.Host) || slices.ContainsFunc(s.opts.Exec.Origins, func(o string) bool { return strings.EqualFold(o, u.Host) }) {
		return nil
	}
	return fmt.Errorf("origin %s may not open sessions on %s: a session must come from opshub's own pages", u.Host, r.Host)
}

// accept upgrades the request; the origin was checked by openSession.
func accept(w http.ResponseWriter, r *http.Request, subprotocols []string) (*websocket.Conn, error) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       subprotocols,
		InsecureSkipVerify: true, // checkOrigin did it, with opshub's own message
	})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(execReadLimit)
	return c, nil
}

// idleWatch ends a session after IdleTimeout without traffic.
type idleWatch struct {
	last    atomic.Int64 // unix nanoseconds
	timeout time.Duration
	expired atomic.Bool
}

func (iw *idleWatch) touch() { iw.last.Store(time.Now().UnixNano()) }

// run calls stop once the session was idle for the timeout, or returns
// when ctx ends.
func (iw *idleWatch) run(ctx context.Context, stop func()) {
	iw.touch()
	t := time.NewTimer(iw.timeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			idle := time.Since(time.Unix(0, iw.last.Load()))
			if idle >= iw.timeout {
				iw.expired.Store(true)
				stop()
				return
			}
			t.Reset(iw.timeout - idle)
		}
	}
}

// sessionLog logs the start and end of a session, for audit.
func (s *Server) sessionLog(r *http.Request, kind string, t platform.Target, extra ...any) (end func(result ...any)) {
	start := time.Now()
	attrs := append([]any{"kind", kind, "caller", callerOf(r), "remote", r.RemoteAddr,
		"project", t.Project, "service", t.Service, "instance", t.Instance, "container", t.Container}, extra...)
	s.log.Info("exec session started", attrs...)
	s.exec.started.WithLabelValues(kind).Inc()
	s.exec.active.WithLabelValues(kind).Inc()
	return func(result ...any) {
		end := time.Now()
		s.exec.active.WithLabelValues(kind).Dec()
		s.exec.duration.WithLabelValues(kind).Observe(end.Sub(start).Seconds())
		s.log.Info("exec session ended", append(append(attrs, "start", start, "end", end, "duration", end.Sub(start).String()), result...)...)
	}
}

// execSession serves GET …/instances/{instance}/exec.
func (s *Server) execSession(w http.ResponseWriter, r *http.Request) {
	t := sessionTarget(r)
	q := r.URL.Query()
	command := q["command"]
	if len(command) == 0 || command[0] == "" {
		s.exec.refused.WithLabelValues("exec", "bad_request").Inc()
		writeError(w, http.StatusBadRequest, "command is required (command=PROG&command=ARG…)", "command")
		return
	}
	stdin, tty := flagParam(q.Get("stdin")), flagParam(q.Get("tty"))
	if !slices.Contains(websocketProtocols(r), execwire.Subprotocol) {
		s.exec.refused.WithLabelValues("exec", "bad_request").Inc()
		writeError(w, http.StatusBadRequest, "a WebSocket with the subprotocol "+execwire.Subprotocol+" is required", "")
		return
	}
	release, ok := s.openSession(w, r, "exec", t)
	if !ok {
		return
	}
	defer release()
	c, err := accept(w, r, []string{execwire.Subprotocol})
	if err != nil {
		s.log.Warn("exec: websocket upgrade failed", "err", err)
		return
	}
	defer c.CloseNow()
	end := s.sessionLog(r, "exec", t, "command", command, "tty", tty, "stdin", stdin)

	// The session lives until the command ends, the client goes away, or
	// it is idle too long; r.Context() ends with the hijacked connection.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	idle := &idleWatch{timeout: s.opts.Exec.IdleTimeout}
	go idle.run(ctx, func() { s.closeIdle(c); cancel() })

	out := &frameWriter{ctx: ctx, c: c, idle: idle}
	req := platform.ExecRequest{
		Target:  t,
		Command: command,
		Stdout:  out.stream(execwire.Stdout),
		Stderr:  out.stream(execwire.Stderr),
		TTY:     tty,
	}
	var size execwire.TermSize
	if cols, err := strconv.ParseUint(q.Get("cols"), 10, 16); err == nil {
		size.Cols = uint16(cols)
	}
	if rows, err := strconv.ParseUint(q.Get("rows"), 10, 16); err == nil {
		size.Rows = uint16(rows)
	}
	req.Size = platform.TermSize{Cols: size.Cols, Rows: size.Rows}
	resize := make(chan platform.TermSize, 1)
	if tty {
		req.Resize = resize
	}
	var stdinW *io.PipeWriter
	if stdin {
		var stdinR *io.PipeReader
		stdinR, stdinW = io.Pipe()
		req.Stdin = stdinR
		defer stdinR.Close()
	}
	clientGone := make(chan struct{})
	go func() {
		defer close(clientGone)
		s.readExecInput(ctx, c, idle, stdinW, resize)
	}()

	code, err := s.opts.Exec.Execer.Exec(ctx, req)
	switch {
	case idle.expired.Load():
		end("result", "idle-timeout")
	case err != nil && ctx.Err() != nil:
		end("result", "client-gone")
	case err != nil:
		_ = c.Close(websocket.StatusInternalError, closeReason(err.Error()))
		end("result", "error", "err", err)
	default:
		// The command has ended: its slot is free before the client hears
		// so, and a session it opens next is not refused for the limit.
		release()
		body, _ := json.Marshal(execwire.ExitStatus{ExitCode: code})
		if werr := c.Write(ctx, websocket.MessageBinary, execwire.Frame(execwire.Exit, body)); werr == nil {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
		end("result", "exited", "exit_code", code)
	}
	cancel()
	<-clientGone
}

// readExecInput reads the client's messages: stdin (an empty one closes
// stdin) and resizes. It returns when the client closes or ctx ends.
func (s *Server) readExecInput(ctx context.Context, c *websocket.Conn, idle *idleWatch, stdin *io.PipeWriter, resize chan platform.TermSize) {
	// Stdin is written from its own goroutine through a bounded queue, so
	// that a command that reads no input does not keep resizes (or the
	// client's close) from being read.
	var queue chan []byte
	if stdin != nil {
		queue = make(chan []byte, 64)
		go func() {
			for p := range queue {
				if p == nil {
					stdin.Close()
					continue
				}
				if _, err := stdin.Write(p); err != nil {
					for range queue { // the command closed its input
					}
					return
				}
			}
			stdin.Close()
		}()
		defer close(queue)
	}
	for {
		typ, msg, err := c.Read(ctx)
		if err != nil {
			return
		}
		idle.touch()
		if typ != websocket.MessageBinary || len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case execwire.Stdin:
			if queue == nil {
				continue
			}
			var p []byte // nil: EOF
			if len(msg) > 1 {
				p = msg[1:]
			}
			select {
			case queue <- p:
			case <-ctx.Done():
				return
			}
		case execwire.Resize:
			var sz execwire.TermSize
			if json.Unmarshal(msg[1:], &sz) != nil {
				continue
			}
			select { // keep only the newest size
			case <-resize:
			default:
			}
			resize <- platform.TermSize{Cols: sz.Cols, Rows: sz.Rows}
		}
	}
}

// frameWriter writes the command's streams as framed binary messages.
// coder/websocket allows concurrent writers.
type frameWriter struct {
	ctx  context.Context
	c    *websocket.Conn
	idle *idleWatch
}

type streamWriter struct {
	fw *frameWriter
	id byte
}

func (fw *frameWriter) stream(id byte) io.Writer { return &streamWriter{fw: fw, id: id} }

func (sw *streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := sw.fw.c.Write(sw.fw.ctx, websocket.MessageBinary, execwire.Frame(sw.id, p)); err != nil {
		return 0, err
	}
	sw.fw.idle.touch()
	return len(p), nil
}

// closeIdle closes a session that was idle for too long, saying why.
func (s *Server) closeIdle(c *websocket.Conn) {
	_ = c.Close(websocket.StatusPolicyViolation, fmt.Sprintf("idle for %s (server.exec.idleTimeout)", s.opts.Exec.IdleTimeout))
}

// closeReason fits a message into a close frame (123 bytes).
func closeReason(msg string) string {
	if len(msg) <= 123 {
		return msg
	}
	return msg[:120] + "..."
}

// closeReasonTail fits a message into a close frame keeping its end, where
// a wrapped error says what happened ("… connection refused"); the whole
// message is in the session's log line.
func closeReasonTail(msg string) string {
	if len(msg) <= 123 {
		return msg
	}
	i := len(msg) - 120
	for i < len(msg) && !utf8.RuneStart(msg[i]) {
		i++
	}
	return "..." + msg[i:]
}

func flagParam(v string) bool {
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// forwardSession serves GET …/instances/{instance}/forward?port=P: one
// WebSocket carries one TCP connection, binary messages both ways.
func (s *Server) forwardSession(w http.ResponseWriter, r *http.Request) {
	t := sessionTarget(r)
	port, err := strconv.Atoi(r.URL.Query().Get("port"))
	if err != nil || port < 1 || port > 65535 {
		s.exec.refused.WithLabelValues("forward", "bad_request").Inc()
		writeError(w, http.StatusBadRequest, "port must be a TCP port number (1-65535)", "port")
		return
	}
	release, ok := s.openSession(w, r, "forward", t)
	if !ok {
		return
	}
	defer release()
	// Connect before the upgrade, so that a closed port is an HTTP error
	// the client can show.
	dialCtx, cancelDial := context.WithTimeout(r.Context(), 10*time.Second)
	conn, err := s.opts.Exec.Execer.DialInstance(dialCtx, t, port)
	cancelDial()
	switch {
	case platform.IsNotRunning(err):
		s.exec.refused.WithLabelValues("forward", "not_running").Inc()
		writeError(w, http.StatusConflict, err.Error(), "instance")
		return
	case errors.Is(err, platform.ErrNotFound):
		s.exec.refused.WithLabelValues("forward", "not_found").Inc()
		writeError(w, http.StatusNotFound, err.Error(), "instance")
		return
	case err != nil:
		s.exec.refused.WithLabelValues("forward", "unreachable").Inc()
		writeError(w, http.StatusBadGateway, err.Error(), "port")
		return
	}
	defer conn.Close()
	c, err := accept(w, r, nil)
	if err != nil {
		s.log.Warn("forward: websocket upgrade failed", "err", err)
		return
	}
	defer c.CloseNow()
	end := s.sessionLog(r, "forward", t, "port", port)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	idle := &idleWatch{timeout: s.opts.Exec.IdleTimeout}
	go idle.run(ctx, func() { s.closeIdle(c); cancel() })
	go func() {
		<-ctx.Done()
		conn.Close() // unblocks the copy from the connection
	}()

	var wg sync.WaitGroup
	var fromInstance, toInstance atomic.Int64
	var remoteErr error // the instance's side failed (not set when it just closed)
	wg.Go(func() {
		defer cancel()
		buf := make([]byte, 32<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				if werr := c.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
					return
				}
				fromInstance.Add(int64(n))
				idle.touch()
			}
			switch {
			case err == nil:
			case errors.Is(err, io.EOF) || ctx.Err() != nil:
				// The instance closed the connection: a clean close
				// tells the client that everything arrived.
				_ = c.Close(websocket.StatusNormalClosure, "")
				return
			default:
				// The connection to the port failed after the upgrade
				// (on Kubernetes the kubelet connects only then).
				remoteErr = err
				_ = c.Close(websocket.StatusBadGateway, closeReasonTail(err.Error()))
				return
			}
		}
	})
	wg.Go(func() {
		defer cancel()
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			idle.touch()
			if typ != websocket.MessageBinary {
				continue
			}
			if _, err := conn.Write(msg); err != nil {
				return
			}
			toInstance.Add(int64(len(msg)))
		}
	})
	wg.Wait()
	result := []any{"result", "closed"}
	switch {
	case idle.expired.Load():
		result = []any{"result", "idle-timeout"}
	case remoteErr != nil:
		result = []any{"result", "error", "err", remoteErr}
	}
	end(append(result, "bytes_in", toInstance.Load(), "bytes_out", fromInstance.Load())...)
}
