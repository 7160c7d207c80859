package probes

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// maxBodyBytes is how much of an HTTP probe's response body is read, and
// how much of an exec probe's output is kept: the kubelet's 10 KiB.
const maxBodyBytes = 10 << 10

// userAgent is sent by probes that set no User-Agent of their own, as the
// kubelet sends kube-probe/<version>.
const userAgent = "opshub-probe/1"

// maxRedirects is where the kubelet's prober stops following redirects.
const maxRedirects = 10

// probeDialer opens probe connections. Like the kubelet's, it sets
// SO_LINGER to one second so that the many short connections probes open
// do not linger; TCP keep-alive is off, since a probe's connection lives
// for one request.
func probeDialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout:   timeout,
		KeepAlive: -1,
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
			})
			return errors.Join(err, serr)
		},
	}
}

// probeTLS is the TLS configuration of HTTPS probes: like the kubelet, they
// do not verify the server's certificate.
var probeTLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the kubelet does not verify probe certificates either

// httpHandler is an HTTP GET probe.
//
// It speaks HTTP/1.1 over a connection of its own for each request, with
// "Connection: close", as the kubelet's prober does with keep-alive off (so
// that a server that stops accepting connections fails its probes). It
// does so without net/http's Transport, whose per-connection goroutines
// and pools cost several times more CPU than the request itself when a
// thousand probes run every second; the judgement of the response is the
// kubelet's all the same.
type httpHandler struct {
	action HTTPAction
	header http.Header // the request headers, User-Agent and Accept included
	host   string      // a Host header to send instead of the address, or ""
}

var _ Handler = (*httpHandler)(nil)

func newHTTPHandler(a HTTPAction) *httpHandler {
	h := &httpHandler{action: a, header: http.Header{}}
	for k, v := range a.Headers {
		h.header.Add(k, v)
	}
	if _, ok := h.header["User-Agent"]; !ok {
		h.header.Set("User-Agent", userAgent)
	}
	if _, ok := h.header["Accept"]; !ok {
		h.header.Set("Accept", "*/*")
	} else if h.header.Get("Accept") == "" {
		h.header.Del("Accept")
	}
	h.host = h.header.Get("Host")
	h.header.Del("Host")
	h.header.Set("Connection", "close")
	return h
}

func (h *httpHandler) Describe() string {
	scheme := "http"
	if strings.EqualFold(h.action.Scheme, "HTTPS") {
		scheme = "https"
	}
	return scheme + " GET " + portText(h.action.Port) + h.action.Path
}

// url builds the probe's URL for target; like the kubelet's formatURL it
// passes a path that does not parse along as it is.
func (h *httpHandler) url(t Target) *url.URL {
	u, err := url.Parse(h.action.Path)
	if err != nil {
		u = &url.URL{Path: h.action.Path}
	}
	u.Scheme = strings.ToLower(h.action.Scheme)
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	u.Host = net.JoinHostPort(t.host(), strconv.Itoa(portFor(h.action.Port, t)))
	return u
}

// Probe sends the GET and judges the response as the kubelet's
// DoHTTPProbe does: 200–399 passes; a redirect is followed on the same
// host (at most 10 times) and, when it leaves the host, passes with a
// warning; anything else fails, with the error or "HTTP probe failed with
// statuscode: N" as the output. At most 10 KiB of the body is read.
func (h *httpHandler) Probe(ctx context.Context, t Target, timeout time.Duration) Outcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	first := h.url(t)
	u := first
	for redirects := 0; ; redirects++ {
		code, location, body, err := h.get(ctx, u)
		if err != nil {
			return failed("%s", clientError(u, err, ctx))
		}
		o := Outcome{StatusCode: code}
		switch {
		case code >= http.StatusOK && code < http.StatusMultipleChoices:
			o.Result, o.Output = Success, body
			return o
		case isRedirect(code) && location != "":
			next, err := u.Parse(location)
			if err != nil {
				return failed("%s", (&url.Error{Op: "Get", URL: u.String(), Err: fmt.Errorf("failed to parse Location header %q: %w", location, err)}).Error())
			}
			if next.Hostname() != first.Hostname() {
				// The kubelet's prober does not follow a redirect off the host.
				o.Result, o.Output = Warning, "Probe terminated redirects, Response body: "+body
				return o
			}
			if redirects+1 >= maxRedirects {
				return failed("%s", (&url.Error{Op: "Get", URL: next.String(), Err: fmt.Errorf("stopped after %d redirects", maxRedirects)}).Error())
			}
			u = next
		case code >= http.StatusMultipleChoices && code < http.StatusBadRequest:
			o.Result, o.Output = Warning, "Probe terminated redirects, Response body: "+body
			return o
		default:
			o.Result, o.Output = Failure, "HTTP probe failed with statuscode: "+strconv.Itoa(code)
			return o
		}
	}
}

// isRedirect reports whether net/http's client would follow code.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// readers recycles the response readers of probe connections.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// get sends one GET for u on a new connection and returns the status, the
// Location header and up to maxBodyBytes of the body.
func (h *httpHandler) get(ctx context.Context, u *url.URL) (code int, location, body string, err error) {
	conn, err := h.dial(ctx, u)
	if err != nil {
		return 0, "", "", err
	}
	defer conn.Close()

	host := h.host
	if host == "" {
		host = u.Host
	}
	var req strings.Builder
	req.Grow(256)
	req.WriteString("GET ")
	req.WriteString(u.RequestURI())
	req.WriteString(" HTTP/1.1\r\nHost: ")
	req.WriteString(host)
	req.WriteString("\r\n")
	if err := h.header.Write(&req); err != nil {
		return 0, "", "", err
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		return 0, "", "", err
	}

	br := readers.Get().(*bufio.Reader)
	br.Reset(conn)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return 0, "", "", err
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b), nil
}

// dial opens the connection of one request, with TLS for HTTPS; the
// connection gives up at ctx's deadline or when ctx ends.
func (h *httpHandler) dial(ctx context.Context, u *url.URL) (io.ReadWriteCloser, error) {
	conn, err := probeDialer(0).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	c := &stoppingConn{Conn: conn, stop: stop}
	if u.Scheme != "https" {
		return c, nil
	}
	cfg := probeTLS.Clone()
	cfg.ServerName = u.Hostname()
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// stoppingConn unhooks its cancellation when closed.
type stoppingConn struct {
	net.Conn
	stop func() bool
}

func (c *stoppingConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// clientError words a failed request as net/http's client does, which is
// what the kubelet reports: `Get "http://…/ready": dial tcp …: connect:
// connection refused`, and for a timeout `Get "…": context deadline
// exceeded (Client.Timeout exceeded while awaiting headers)`.
func clientError(u *url.URL, err error, ctx context.Context) string {
	var ne net.Error
	if ctx.Err() == context.DeadlineExceeded || (errors.As(err, &ne) && ne.Timeout()) {
		err = errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
	}
	return (&url.Error{Op: "Get", URL: u.String(), Err: err}).Error()
}
