package server

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Limits bounds what a client can take of a server: how long it may take
// to send a request and to read the answer, how large a request may be,
// and how many live tails it may hold. Zero fields take DefaultLimits'.
type Limits struct {
	// ReadHeaderTimeout is the time to send the request line and headers;
	// a client trickling bytes is cut off after it.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is the time to send the whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout is the time to answer a request, and for a live tail
	// the time one write may take (a client that stops reading is dropped).
	// Exec and forward sessions have their own idle timeout instead.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int

	// MaxTails is how many live tails the server serves at once (429
	// beyond), and MaxTailsPerClient how many one client (a token, or an
	// address when no token is used) may hold.
	MaxTails          int
	MaxTailsPerClient int
	// MaxQueryRange bounds a log query's time range (to − from, or since).
	MaxQueryRange time.Duration
	// MaxFilterBytes bounds each text and regex filter of a log query.
	MaxFilterBytes int
}

// DefaultLimits are the limits of a server whose Options leave them out.
var DefaultLimits = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       time.Minute,
	WriteTimeout:      2 * time.Minute,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    64 << 10,
	MaxTails:          100,
	MaxTailsPerClient: 10,
	MaxQueryRange:     31 * 24 * time.Hour,
	MaxFilterBytes:    1024,
}

// withDefaults fills the zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	set(&l.MaxQueryRange, d.MaxQueryRange)
	for _, p := range []struct{ v, def *int }{
		{&l.MaxHeaderBytes, &d.MaxHeaderBytes}, {&l.MaxTails, &d.MaxTails},
		{&l.MaxTailsPerClient, &d.MaxTailsPerClient}, {&l.MaxFilterBytes, &d.MaxFilterBytes},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	return l
}

// NewHTTPServer is the http.Server every opshub listener uses (the API and
// UI, a collector's node API, the controller's front), with l's timeouts.
func NewHTTPServer(h http.Handler, l Limits, log *slog.Logger) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Request body limits: a route not listed takes the limit of its method,
// 4 KiB for a GET (which carries no document) and 64 KiB otherwise.
const (
	maxBodyRead     = 4 << 10
	maxBodyDocument = 64 << 10
	maxBodyDeploy   = 1 << 20
)

// routeBodyLimits are the routes whose limit is not their method's.
var routeBodyLimits = map[string]int64{
	"service_deploy": maxBodyDeploy,
}

func bodyLimit(route, pattern string) int64 {
	if n, ok := routeBodyLimits[route]; ok {
		return n
	}
	if strings.HasPrefix(pattern, "GET ") {
		return maxBodyRead
	}
	return maxBodyDocument
}

// limitBody answers 413 to a request whose body is longer than limit, and
// otherwise hands h the body read in full (so that a handler reading less
// than all of it cannot mistake a cut body for a whole one).
func limitBody(limit int64, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			tooLarge(w, limit)
			return
		}
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "read the request body: "+err.Error(), "")
			return
		}
		if int64(len(body)) > limit {
			tooLarge(w, limit)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	}
}

func tooLarge(w http.ResponseWriter, limit int64) {
	// The rest of the body is not read: close rather than keep the
	// connection for the next request.
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", limit), "")
}

// longLived lifts the server's read and write deadlines for a route that
// stays open (a live tail, an exec or forward WebSocket), which bounds
// itself: a tail sets a write deadline per write, a session has its idle
// timeout. (net/http also clears the deadlines of a connection a WebSocket
// takes over; lifting them here keeps that from being a detail to know.)
func longLived(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		liftDeadlines(w)
		h(w, r)
	}
}

// liftDeadlines clears the connection's read and write deadlines.
func liftDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	// Not supported by test recorders, which have no deadlines.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
}

// tailSlots counts live tails, in all and per client.
type tailSlots struct {
	mu        sync.Mutex
	total     int
	perClient map[string]int
}

// acquire takes a slot for client, or says which limit is reached and the
// status that answers it: 429 when the server is full (the request is
// fine, later it will be served), 400 when this client holds its share
// (its own request is over the bound until it closes a tail).
// perClient is false on a collector's node API, whose clients are the
// controllers tailing for many people: only the total counts there.
func (t *tailSlots) acquire(client string, l Limits, perClient bool) (release func(), status int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.total >= l.MaxTails {
		return nil, http.StatusTooManyRequests, fmt.Errorf("this server already serves %d live tails, its limit (server.limits.maxTails); try again later", t.total)
	}
	if n := t.perClient[client]; perClient && n >= l.MaxTailsPerClient {
		return nil, http.StatusBadRequest, fmt.Errorf("%s already holds %d live tails, the limit per client (server.limits.maxTailsPerClient); close one first", client, n)
	}
	if t.perClient == nil {
		t.perClient = map[string]int{}
	}
	t.total++
	t.perClient[client]++
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.total--
			if t.perClient[client]--; t.perClient[client] <= 0 {
				delete(t.perClient, client)
			}
		})
	}, 0, nil
}

// clientOf names who holds a tail: the token's name, else the address the
// request came from (loopback clients and reviewed identities alike).
func clientOf(r *http.Request) string {
	if who := callerOf(r); who != "" && who != "loopback" {
		return "token " + who
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "client " + host
}

// longLivedRoutes stay open after their answer starts.
var longLivedRoutes = map[string]bool{"logs_tail": true, "exec": true, "forward": true}

// isLongLivedPath reports whether path is one of longLivedRoutes, for a
// follower that passes such a request on to the leader.
func isLongLivedPath(path string) bool {
	if path == "/api/v1/logs/tail" {
		return true
	}
	return strings.HasPrefix(path, "/api/v1/services/") && strings.Contains(path, "/instances/") &&
		(strings.HasSuffix(path, "/exec") || strings.HasSuffix(path, "/forward"))
}
