package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
)

// FuzzLogQuery: any query string sent to the log endpoints answers 200
// with a query inside the bounds, or a 4xx with a message and the field at
// fault; never a 5xx or a panic.
func FuzzLogQuery(f *testing.F) {
	for _, q := range []string{
		"project=demo&service=web&container=web-1&from=2026-11-24T10:00:00Z&to=2026-11-24T11:00:00Z&limit=5&direction=forward&textIncludes=GET&textNotIncludes=health&regexIncludes=5..&regexNotIncludes=^x",
		"project=demo&service=web&since=5m&limit=10000&direction=backward",
		"project=demo&service=web&regexIncludes=(a%2B)%2B$&since=9999999h",
		"project=demo&service=web&from=2026-11-24T10:00:00.123456789%2B01:00&limit=-1",
		"project=demo&service=missing",
		"project=%ZZ&service=web",
	} {
		f.Add(q, false)
		f.Add(q, true)
	}
	logs := &fakeLogs{recs: []model.LogRecord{{Time: time.Unix(1795946400, 0).UTC(), Log: "GET / 200", Stream: "stdout"}}}
	h := newTestServer(f, Options{Logs: logs}).Handler()
	f.Fuzz(func(t *testing.T, query string, tail bool) {
		path := "/api/v1/logs"
		if tail {
			path = "/api/v1/logs/tail"
		}
		logs.got = collector.Query{}
		req := httptest.NewRequest("GET", path, nil)
		req.URL.RawQuery = query
		req.RemoteAddr = "127.0.0.1:5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK:
			q, lim := logs.got, DefaultLimits
			if q.Project == "" || q.Service == "" || q.Limit < 0 || q.Limit > collector.MaxQueryLimit {
				t.Fatalf("%q: served a query %+v", query, q)
			}
			if !q.From.IsZero() && !q.To.IsZero() && (q.To.Before(q.From) || q.To.Sub(q.From) > lim.MaxQueryRange) {
				t.Fatalf("%q: served a range from %v to %v", query, q.From, q.To)
			}
			for _, f := range []string{q.TextIncludes, q.TextNotIncludes, reString(q.RegexIncludes), reString(q.RegexNotIncludes)} {
				if len(f) > lim.MaxFilterBytes {
					t.Fatalf("%q: served a filter of %d bytes", query, len(f))
				}
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e apiError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%q: %d with body %q", query, rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%q: status %d: %s", query, rec.Code, rec.Body)
		}
	})
}

func reString(re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	return re.String()
}

// FuzzNodeAPI sends raw HTTP requests from another host to a collector's
// node API: whatever the request line and headers hold (tokens in the
// Authorization header or a WebSocket subprotocol), only the token the
// reviewer vouches for is served, and nothing panics or answers 5xx.
func FuzzNodeAPI(f *testing.F) {
	for _, raw := range []string{
		"GET /api/v1/node/samples?since=2026-11-24T10:00:00Z HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer controller\r\n\r\n",
		"GET /api/v1/node/samples?since=yesterday HTTP/1.1\r\nHost: node\r\nAuthorization: bearer  controller \r\n\r\n",
		"GET /api/v1/logs?project=demo&service=web&limit=3 HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer forged\r\n\r\n",
		"GET /api/v1/logs/tail?project=demo&service=web HTTP/1.1\r\nHost: node\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: opshub.exec.v1, opshub.token.Y29udHJvbGxlcg\r\n\r\n",
		"POST /api/v1/sinks/x/pause HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer controller\r\nContent-Length: 2\r\n\r\n{}",
		"GET /metrics HTTP/1.0\r\n\r\n",
	} {
		f.Add([]byte(raw))
	}
	logs := &fakeLogs{recs: []model.LogRecord{{Time: time.Unix(1795946400, 0).UTC(), Log: "GET / 200", Stream: "stdout"}}}
	rv := reviewer{"controller": {"system:serviceaccount:opshub:opshub-controller", true}}
	h := newTestServer(f, Options{TokenReviewer: rv, NodeSamples: heldSamples{}, Logs: logs}).Handler()
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		req.RemoteAddr = "10.1.2.3:5555"
		token, hasToken := bearer(req)
		if u, err := url.ParseRequestURI(req.RequestURI); err == nil {
			req.URL = u
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%q: status %d: %s", raw, rec.Code, rec.Body)
		}
		open := req.URL.Path == "/healthz" || req.URL.Path == "/readyz" || !strings.HasPrefix(req.URL.Path, "/api/") && req.URL.Path != "/metrics"
		if rec.Code < 300 && !open && (!hasToken || token != "controller") {
			t.Fatalf("%q: served (%d) without the controller's token", raw, rec.Code)
		}
	})
}
