package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
)

// LogReader answers log queries and live tails. *collector.Reader
// satisfies it.
type LogReader interface {
	Query(ctx context.Context, q collector.Query) ([]model.LogRecord, error)
	Follow(ctx context.Context, q collector.Query, send func(model.LogRecord) error) error
}

// sseKeepAlive is how often an idle live tail sends a comment, so proxies
// and clients see the stream is alive.
const sseKeepAlive = 15 * time.Second

// parseLogQuery reads the filters of the log endpoints, within lim's
// bounds. On error it returns the offending parameter's name.
func parseLogQuery(r *http.Request, now time.Time, lim Limits) (collector.Query, string, error) {
	v := r.URL.Query()
	for _, name := range []string{"textIncludes", "textNotIncludes", "regexIncludes", "regexNotIncludes"} {
		if n := len(v.Get(name)); n > lim.MaxFilterBytes {
			return collector.Query{}, name, fmt.Errorf("%s is %d bytes long; at most %d are allowed", name, n, lim.MaxFilterBytes)
		}
	}
	q := collector.Query{
		Project:         v.Get("project"),
		Service:         v.Get("service"),
		Container:       v.Get("container"),
		TextIncludes:    v.Get("textIncludes"),
		TextNotIncludes: v.Get("textNotIncludes"),
		Direction:       collector.Direction(v.Get("direction")),
	}
	if q.Project == "" {
		return q, "project", errors.New("project is required")
	}
	if q.Service == "" {
		return q, "service", errors.New("service is required")
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return q, p.name, fmt.Errorf("%s must be an RFC 3339 time: %w", p.name, err)
			}
			*p.dst = t
		}
	}
	if s := v.Get("since"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return q, "since", fmt.Errorf("since must be a positive duration such as 5m or 1h, got %q", s)
		}
		if d > lim.MaxQueryRange {
			return q, "since", fmt.Errorf("since may reach back at most %s, got %s", lim.MaxQueryRange, d)
		}
		if since := now.Add(-d); q.From.IsZero() || since.After(q.From) {
			q.From = since
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() {
		if q.To.Before(q.From) {
			return q, "to", fmt.Errorf("to (%s) is before from (%s)", q.To.Format(time.RFC3339Nano), q.From.Format(time.RFC3339Nano))
		}
		if span := q.To.Sub(q.From); span > lim.MaxQueryRange {
			return q, "from", fmt.Errorf("from and to are %s apart; a query may span at most %s", span, lim.MaxQueryRange)
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > collector.MaxQueryLimit {
			return q, "limit", fmt.Errorf("limit must be between 1 and %d, got %q", collector.MaxQueryLimit, s)
		}
		q.Limit = n
	}
	switch q.Direction {
	case "", collector.Forward, collector.Backward:
	default:
		return q, "direction", fmt.Errorf("direction must be forward or backward, got %q", q.Direction)
	}
	for _, p := range []struct {
		name string
		dst  **regexp.Regexp
	}{{"regexIncludes", &q.RegexIncludes}, {"regexNotIncludes", &q.RegexNotIncludes}} {
		if s := v.Get(p.name); s != "" {
			re, err := regexp.Compile(s)
			if err != nil {
				return q, p.name, fmt.Errorf("%s: %w", p.name, err)
			}
			*p.dst = re
		}
	}
	return q, "", nil
}

// logQuery reads the query of a log request; ok is false when it has
// answered instead: 501 when this opshub serves no logs, 400 naming the
// parameter at fault.
func (s *Server) logQuery(w http.ResponseWriter, r *http.Request) (q collector.Query, ok bool) {
	if s.opts.Logs == nil {
		writeError(w, http.StatusNotImplemented, "logs are not served by this opshub", "")
		return q, false
	}
	q, field, err := parseLogQuery(r, time.Now(), s.opts.Limits)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), field)
		return q, false
	}
	return q, true
}

// queryLogs serves GET /api/v1/logs: the matching lines as a JSON array.
func (s *Server) queryLogs(w http.ResponseWriter, r *http.Request) {
	q, ok := s.logQuery(w, r)
	if !ok {
		return
	}
	recs, err := s.opts.Logs.Query(r.Context(), q)
	switch {
	case errors.Is(err, collector.ErrNoLogs):
		writeError(w, http.StatusNotFound, err.Error(), "service")
		return
	case err != nil:
		s.log.Warn("log query failed", "err", err)
		writeError(w, http.StatusInternalServerError, "query logs: "+err.Error(), "")
		return
	}
	if recs == nil {
		recs = []model.LogRecord{}
	}
	writeJSON(w, http.StatusOK, recs)
}

// tailLogs serves GET /api/v1/logs/tail: Server-Sent Events, one "data:"
// event per line (a log record as JSON), starting with the last limit lines.
func (s *Server) tailLogs(w http.ResponseWriter, r *http.Request) {
	q, ok := s.logQuery(w, r)
	if !ok {
		return
	}
	release, status, err := s.tails.acquire(clientOf(r), s.opts.Limits, s.opts.TokenReviewer == nil)
	if err != nil {
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "10")
		}
		writeError(w, status, err.Error(), "")
		return
	}
	defer release()
	rc := http.NewResponseController(w)
	// Each write has WriteTimeout to finish: a client that stops reading
	// is dropped instead of holding the tail (the route has no deadline
	// of its own; see longLived).
	flush := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(s.opts.Limits.WriteTimeout))
		if len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		return rc.Flush()
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := flush(nil); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	events := make(chan model.LogRecord, 256)
	done := make(chan error, 1)
	go func() {
		done <- s.opts.Logs.Follow(ctx, q, func(rec model.LogRecord) error {
			select {
			case events <- rec:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	// waiting appends the events waiting in the channel.
	waiting := func(buf []byte) []byte {
		for {
			select {
			case rec := <-events:
				buf = appendEvent(buf, rec)
			default:
				return buf
			}
		}
	}
	var buf []byte
	for {
		select {
		case rec := <-events:
			// Send what else is waiting in the same write.
			buf = waiting(appendEvent(buf[:0], rec))
			if err := flush(buf); err != nil {
				return
			}
		case <-keepAlive.C:
			if err := flush([]byte(": keep-alive\n\n")); err != nil {
				return
			}
		case err := <-done:
			// Lines the reader handed over before it ended are still
			// sent: select picks among ready cases at random.
			buf = waiting(buf[:0])
			if len(buf) > 0 {
				if err := flush(buf); err != nil {
					return
				}
			}
			if err != nil && !errors.Is(err, context.Canceled) {
				msg, _ := json.Marshal(apiError{Error: err.Error()})
				_ = flush(fmt.Appendf(nil, "event: error\ndata: %s\n\n", msg))
			}
			return
		}
	}
}

// appendEvent appends one Server-Sent Event carrying rec as JSON.
func appendEvent(buf []byte, rec model.LogRecord) []byte {
	b, _ := json.Marshal(rec)
	buf = append(buf, "data: "...)
	buf = append(buf, b...)
	return append(buf, "\n\n"...)
}
