package probes

import (
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
	"syscall"
	"time"
)

// maxBodyBytes is how much of an HTTP probe's response body is read, and
// how much of an exec probe's output is kept: the kubelet's 10 KiB.
const maxBodyBytes = 10 << 10

// userAgent is sent by HTTP probes that set no User-Agent of their own,
// as the kubelet sends kube-probe/<version>.
const userAgent = "opshub-probe/1"

// maxRedirects is where the kubelet's prober stops following redirects.
const maxRedirects = 10

// probeDialer opens probe connections. Like the kubelet's, it sets
// SO_LINGER to one second so that the many short connections probes open
// do not pile up in TIME_WAIT for a minute each and exhaust the ephemeral
// ports (a thousand probes a second would otherwise hold 60,000 of them).
func probeDialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout: timeout,
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
			})
			return errors.Join(err, serr)
		},
	}
}

// newProbeTransport is the transport every HTTP probe of a Manager shares:
// no keep-alive (each run opens its own connection, as the kubelet's do,
// so a server that stops accepting fails its probes), no proxy from the
// environment, and no certificate checks.
func newProbeTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         probeDialer(0).DialContext,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the kubelet does not verify probe certificates either
		DisableKeepAlives:   true,
		DisableCompression:  true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}

// httpHandler is an HTTP GET probe.
type httpHandler struct {
	action    HTTPAction
	transport http.RoundTripper
	header    http.Header
}

var _ Handler = (*httpHandler)(nil)

func newHTTPHandler(a HTTPAction, transport http.RoundTripper) *httpHandler {
	h := &httpHandler{action: a, transport: transport, header: http.Header{}}
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
	return h
}

func (h *httpHandler) Describe() string {
	s := "http GET " + portText(h.action.Port) + h.action.Path
	if strings.EqualFold(h.action.Scheme, "HTTPS") {
		s = "https GET " + portText(h.action.Port) + h.action.Path
	}
	return s
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
// DoHTTPProbe does: 200–399 passes; a redirect the client stopped at (one
// that leaves the host) passes with a warning; anything else, including an
// error, fails with the error or "HTTP probe failed with statuscode: N" as
// the output. At most 10 KiB of the body is read.
func (h *httpHandler) Probe(ctx context.Context, t Target, timeout time.Duration) Outcome {
	u := h.url(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return failed("%s", err.Error())
	}
	req.Header = h.header.Clone()
	req.Host = h.header.Get("Host")
	client := &http.Client{
		Transport: h.transport,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return failed("%s", err.Error())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return Outcome{Result: Failure, Output: err.Error(), StatusCode: resp.StatusCode}
	}
	o := Outcome{StatusCode: resp.StatusCode}
	switch code := resp.StatusCode; {
	case code >= http.StatusOK && code < http.StatusMultipleChoices:
		o.Result, o.Output = Success, string(body)
	case code >= http.StatusMultipleChoices && code < http.StatusBadRequest:
		o.Result, o.Output = Warning, "Probe terminated redirects, Response body: "+string(body)
	default:
		o.Result, o.Output = Failure, "HTTP probe failed with statuscode: "+strconv.Itoa(code)
	}
	return o
}
