package probes

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// probeDialer opens the connections of TCP and gRPC probes, which close them at
// once. Like the kubelet's, it sets SO_LINGER to one second so that these
// connections do not pile up in TIME_WAIT, a minute each, and exhaust the
// ephemeral ports (a thousand probes a second would hold 60,000 of them).
// TCP keep-alive is off: a probe's connection lives for one exchange.
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

// httpDialer opens the connections of HTTP probes. They send "Connection:
// close", so the server closes first and keeps the TIME_WAIT; the
// kubelet's SO_LINGER would cost a system call per run for nothing.
var httpDialer = &net.Dialer{KeepAlive: -1}

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
	// headerBlock is header in wire form, written once.
	headerBlock []byte
	// lastURL caches the URL of the last target: a container's target
	// changes only with its port.
	lastURL atomic.Pointer[cachedURL]
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
	var block bytes.Buffer
	_ = h.header.Write(&block)
	h.headerBlock = block.Bytes()
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
	host := t.host()
	port := portFor(h.action.Port, t)
	if c := h.lastURL.Load(); c != nil && c.host == host && c.port == port {
		return c.u // never modified: Probe only reads it
	}
	u := h.buildURL(host, port)
	h.lastURL.Store(&cachedURL{host: host, port: port, u: u})
	return u
}

// cachedURL is the URL a handler built for its last target.
type cachedURL struct {
	host string
	port int
	u    *url.URL
}

func (h *httpHandler) buildURL(host string, port int) *url.URL {
	u, err := url.Parse(h.action.Path)
	if err != nil {
		u = &url.URL{Path: h.action.Path}
	}
	u.Scheme = strings.ToLower(h.action.Scheme)
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	return u
}

// Probe sends the GET and judges the response as the kubelet's
// DoHTTPProbe does: 200–399 passes; a redirect is followed on the same
// host (at most 10 times) and, when it leaves the host, passes with a
// warning; anything else fails, with the error or "HTTP probe failed with
// statuscode: N" as the output. At most 10 KiB of the body is read.
func (h *httpHandler) Probe(ctx context.Context, t Target, timeout time.Duration) Outcome {
	deadline := time.Now().Add(timeout)
	first := h.url(t)
	u := first
	for redirects := 0; ; redirects++ {
		code, location, body, err := h.get(ctx, u, deadline)
		if err != nil {
			return failed("%s", clientError(u, err, deadline))
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

// exchange is the reusable memory of one request: the response reader and
// the buffers of the request and the body.
type exchange struct {
	br   *bufio.Reader
	req  []byte
	body []byte
}

var exchanges = sync.Pool{New: func() any {
	return &exchange{br: bufio.NewReaderSize(nil, 4096), req: make([]byte, 0, 512), body: make([]byte, 0, 512)}
}}

// get sends one GET for u on a new connection and returns the status, the
// Location header and up to maxBodyBytes of the body.
func (h *httpHandler) get(ctx context.Context, u *url.URL, deadline time.Time) (code int, location, body string, err error) {
	conn, err := h.dial(ctx, u, deadline)
	if err != nil {
		return 0, "", "", err
	}
	defer conn.Close()
	x := exchanges.Get().(*exchange)
	defer func() {
		x.br.Reset(nil)
		exchanges.Put(x)
	}()

	host := h.host
	if host == "" {
		host = u.Host
	}
	x.req = append(x.req[:0], "GET "...)
	x.req = append(x.req, u.RequestURI()...)
	x.req = append(x.req, " HTTP/1.1\r\nHost: "...)
	x.req = append(x.req, host...)
	x.req = append(x.req, "\r\n"...)
	x.req = append(x.req, h.headerBlock...)
	x.req = append(x.req, "\r\n"...)
	if _, err := conn.Write(x.req); err != nil {
		return 0, "", "", err
	}

	x.br.Reset(conn)
	code, location, x.body, err = readResponse(x.br, x.body[:0])
	if err != nil {
		return 0, "", "", err
	}
	return code, location, string(x.body), nil
}

// readResponse reads an HTTP/1.x response to a GET: its status code, its
// Location header and up to maxBodyBytes of its body (appended to body),
// decoding a chunked body. Informational (1xx) responses are skipped, as
// net/http's client skips them.
func readResponse(br *bufio.Reader, body []byte) (code int, location string, _ []byte, err error) {
	var contentLength int64
	var chunked bool
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, "", body, err
		}
		proto, rest, _ := bytes.Cut(line, []byte(" "))
		status, _, _ := bytes.Cut(rest, []byte(" "))
		code, err = strconv.Atoi(string(status))
		if !bytes.HasPrefix(proto, []byte("HTTP/1.")) || len(status) != 3 || err != nil {
			return 0, "", body, fmt.Errorf("malformed HTTP response %q", line)
		}
		location, contentLength, chunked = "", -1, false
		for {
			line, err := readLine(br)
			if err != nil {
				return 0, "", body, err
			}
			if len(line) == 0 {
				break
			}
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok {
				return 0, "", body, fmt.Errorf("malformed MIME header line: %s", line)
			}
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Location")):
				location = string(value)
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 {
					return 0, "", body, fmt.Errorf("bad Content-Length %q", value)
				}
				contentLength = n
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
			}
		}
		if code >= 200 || code == http.StatusSwitchingProtocols {
			break
		}
	}
	var r io.Reader = br
	switch {
	case code == http.StatusNoContent || code == http.StatusNotModified || code < 200:
		return code, location, body, nil
	case chunked:
		r = httputil.NewChunkedReader(br)
	case contentLength >= 0:
		r = io.LimitReader(br, contentLength)
	}
	for len(body) < maxBodyBytes {
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		n, err := r.Read(body[len(body):min(cap(body), maxBodyBytes)])
		body = body[:len(body)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, "", body, err
		}
	}
	return code, location, body, nil
}

// readLine reads one line of a response head without its line ending.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errors.New("header line too long")
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// dial opens the connection of one request, with TLS for HTTPS. The
// connection gives up at deadline (the end of the probe's timeout); ending
// ctx stops a dial through net.Dialer, and an exchange under way ends at
// the deadline.
func (h *httpHandler) dial(ctx context.Context, u *url.URL, deadline time.Time) (io.ReadWriteCloser, error) {
	if u.Scheme == "http" {
		if port, err := strconv.Atoi(u.Port()); err == nil {
			if conn, ok, err := dialLoopbackFast(u.Hostname(), port, deadline); ok {
				if err != nil {
					return nil, err
				}
				return conn, nil
			}
		}
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := httpDialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(deadline)
	if u.Scheme != "https" {
		return conn, nil
	}
	cfg := probeTLS.Clone()
	cfg.ServerName = u.Hostname()
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// clientError words a failed request as net/http's client does, which is
// what the kubelet reports: `Get "http://…/ready": dial tcp …: connect:
// connection refused`, and for a timeout `Get "…": context deadline
// exceeded (Client.Timeout exceeded while awaiting headers)`.
func clientError(u *url.URL, err error, deadline time.Time) string {
	var ne net.Error
	if !time.Now().Before(deadline) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		err = errors.New("context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
	}
	return (&url.Error{Op: "Get", URL: u.String(), Err: err}).Error()
}
