package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// InstanceHeader names the instance that answered a proxied request.
const InstanceHeader = "X-Opshub-Instance"

// proxy is a workload's front door on ProxyHost:Port, playing the part of a
// Kubernetes Service: it balances requests round-robin over the ready
// instances only.
type proxy struct {
	r         *Runtime
	svc       *service
	next      atomic.Uint64
	transport *http.Transport
	server    *http.Server
	ln        net.Listener // set by listen
}

func newProxy(r *Runtime, s *service) *proxy {
	p := &proxy{r: r, svc: s}
	p.transport = &http.Transport{
		Proxy: nil, // never send instance traffic to an HTTP_PROXY
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 0, // long polls and streams are the instance's business
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The host is chosen per attempt by RoundTrip; the Host header
			// stays the one the client sent.
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "instance.invalid"
			pr.SetXForwarded()
		},
		Transport:    p,
		ErrorHandler: p.fail,
		ModifyResponse: func(resp *http.Response) error {
			p.r.metrics.proxyRequest(s.ref(), resp.StatusCode)
			return nil
		},
		ErrorLog:   slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
		BufferPool: copyBuffers,
	}
	p.server = &http.Server{
		Handler:           rp,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(r.log.Handler(), slog.LevelWarn),
	}
	return p
}

// copyBuffers lends the proxies the buffers they copy response bodies
// through: without it, each request allocates (and zeroes) one of 32 KiB,
// which under load was most of the proxy's allocation and a tenth of its
// CPU time (BenchmarkProxy).
var copyBuffers = &bufferPool{}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.p.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// proxyHoldLimit bounds how long a request waits for a ready instance
// while a rollout leaves none (Recreate, or every new instance starting).
const proxyHoldLimit = 30 * time.Second

// backend is one ready instance at one moment.
type backend struct {
	in   *instance
	name string
	addr string
}

// pick chooses the next ready instance not in tried, round-robin, and counts
// the request as in flight on it (under the runtime's lock, so that an
// instance being removed from the proxy gets no request after its drain
// began). With none, it returns the channel that says when readiness
// changes, and whether the request may wait for it: only while a rollout is
// under way, when an instance is about to become ready.
func (p *proxy) pick(tried map[*instance]bool) (b *backend, changed <-chan struct{}, hold bool) {
	p.r.mu.RLock()
	defer p.r.mu.RUnlock()
	eligible := func(in *instance) bool { return in.ready && in.pid != 0 && !in.removing && !tried[in] }
	n := 0
	for _, in := range p.svc.instances {
		if eligible(in) {
			n++
		}
	}
	if n == 0 {
		return nil, p.svc.changed, p.svc.desired > 0 && p.svc.rolling
	}
	k := int((p.next.Add(1) - 1) % uint64(n))
	for _, in := range p.svc.instances {
		if !eligible(in) {
			continue
		}
		if k > 0 {
			k--
			continue
		}
		in.inflight.Add(1)
		return &backend{in: in, name: in.name, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(in.port))}, nil, false
	}
	panic("unreachable: the eligible instances were counted under the same lock")
}

// noReadyError is returned when no ready instance took the request.
type noReadyError struct {
	service string
	refused []string // instances that refused the connection
}

func (e *noReadyError) Error() string {
	if len(e.refused) == 0 {
		return "no ready instances of " + e.service
	}
	return fmt.Sprintf("no ready instances of %s accepted the connection (refused: %s)", e.service, strings.Join(e.refused, ", "))
}

// RoundTrip sends the request to the next ready instance. When the
// connection to an instance cannot be made, the next one is tried: nothing
// has been sent then, so even a request with a body is safe to retry. Any
// other failure is final. While a rollout leaves no ready instance, the
// request waits for one (at most proxyHoldLimit) rather than failing.
func (p *proxy) RoundTrip(req *http.Request) (*http.Response, error) {
	nr := &noReadyError{service: p.svc.ref().String()}
	var tried map[*instance]bool // made on the first refused connection
	var limit <-chan time.Time
	for {
		b, changed, hold := p.pick(tried)
		if b == nil {
			if !hold {
				return nil, nr
			}
			if limit == nil {
				t := time.NewTimer(proxyHoldLimit)
				defer t.Stop()
				limit = t.C
			}
			select {
			case <-changed:
				clear(tried) // a new set of instances: each may be tried again
				continue
			case <-limit:
				return nil, nr
			case <-req.Context().Done():
				return nil, req.Context().Err()
			}
		}
		out := req.Clone(req.Context())
		out.URL.Host = b.addr
		var body *guardedBody
		if req.Body != nil && req.Body != http.NoBody {
			body = &guardedBody{r: req.Body}
			out.Body = body
		}
		resp, err := p.transport.RoundTrip(out)
		if err == nil {
			resp.Header.Set(InstanceHeader, b.name)
			resp.Body = countedBody(resp.Body, b.in)
			return resp, nil
		}
		b.in.inflight.Add(-1)
		if isDialError(err) && (body == nil || !body.used.Load()) {
			if tried == nil {
				tried = map[*instance]bool{}
			}
			tried[b.in] = true
			nr.refused = append(nr.refused, b.name)
			continue
		}
		return nil, fmt.Errorf("instance %s: %w", b.name, err)
	}
}

// countedBody ends the request's count on in when the body is closed.
// Upgraded connections (101) keep their writable body.
func countedBody(body io.ReadCloser, in *instance) io.ReadCloser {
	c := &counted{ReadCloser: body, in: in}
	if rw, ok := body.(io.ReadWriteCloser); ok {
		return &countedRW{counted: c, w: rw}
	}
	return c
}

type counted struct {
	io.ReadCloser
	in   *instance
	once sync.Once
}

func (c *counted) Close() error {
	err := c.ReadCloser.Close()
	c.once.Do(func() { c.in.inflight.Add(-1) })
	return err
}

type countedRW struct {
	*counted
	w io.Writer
}

func (c *countedRW) Write(b []byte) (int, error) { return c.w.Write(b) }

// isDialError reports whether err happened while connecting, before
// anything of the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// guardedBody lends the inbound body to one attempt: it records whether the
// attempt read from it, and keeps the transport from closing it, so that an
// attempt that never connected leaves it whole for the next one. The server
// closes the real body when the handler returns.
type guardedBody struct {
	r    io.ReadCloser
	used atomic.Bool
}

func (g *guardedBody) Read(b []byte) (int, error) {
	g.used.Store(true)
	return g.r.Read(b)
}

func (g *guardedBody) Close() error { return nil }

// fail answers a request no instance could serve: 503 when none is ready, or
// none accepted the connection; 502 when the instance failed.
func (p *proxy) fail(w http.ResponseWriter, req *http.Request, err error) {
	code := http.StatusBadGateway
	var nr *noReadyError
	if errors.As(err, &nr) {
		code = http.StatusServiceUnavailable
	} else if req.Context().Err() != nil {
		// The client went away; there is nobody to answer.
		p.r.metrics.proxyRequest(p.svc.ref(), 499)
		return
	} else {
		p.r.log.Warn("proxy request failed", "project", p.svc.w.Project, "service", p.svc.w.Name, "error", err)
	}
	p.r.metrics.proxyRequest(p.svc.ref(), code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

// listenProxies opens every proxy's listener, or none.
func (r *Runtime) listenProxies() error {
	var opened []*proxy
	for _, s := range r.services {
		if s.proxy == nil {
			continue
		}
		addr := net.JoinHostPort(r.opts.ProxyHost, strconv.Itoa(s.w.Port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			for _, p := range opened {
				p.ln.Close()
			}
			return fmt.Errorf("workload %s: proxy port %d: %w", s.ref(), s.w.Port, err)
		}
		s.proxy.ln = ln
		opened = append(opened, s.proxy)
		r.log.Info("proxy listening", "project", s.w.Project, "service", s.w.Name, "address", ln.Addr().String())
	}
	return nil
}

// serveProxies serves every opened listener; wg is done when they stopped.
func (r *Runtime) serveProxies(wg *sync.WaitGroup) {
	for _, s := range r.services {
		if p := s.proxy; p != nil && p.ln != nil {
			wg.Go(func() {
				if err := p.server.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					r.log.Error("proxy stopped", "project", s.w.Project, "service", s.w.Name, "error", err)
				}
			})
		}
	}
}

// shutdownProxies stops accepting requests and lets in-flight ones finish
// for a bounded time.
func (r *Runtime) shutdownProxies() {
	ctx, cancel := context.WithTimeout(context.Background(), proxyShutdownLimit)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range r.services {
		if p := s.proxy; p != nil && p.ln != nil {
			wg.Go(func() {
				if err := p.server.Shutdown(ctx); err != nil {
					p.server.Close()
				}
				p.transport.CloseIdleConnections()
			})
		}
	}
	wg.Wait()
}
