package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/opshub/opshub/model"
)

// LogQuery selects log lines, as the log endpoints take them.
type LogQuery struct {
	Project, Service, Container string
	From, To                    time.Time
	Since                       time.Duration
	Limit                       int
	Direction                   string // forward | backward
	TextIncludes                string
	TextNotIncludes             string
	RegexIncludes               string
	RegexNotIncludes            string
}

// Values writes q as the log endpoints' query parameters.
func (q LogQuery) Values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("project", q.Project)
	set("service", q.Service)
	set("container", q.Container)
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.Format(time.RFC3339Nano))
	}
	if q.Since > 0 {
		v.Set("since", q.Since.String())
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	set("direction", q.Direction)
	set("textIncludes", q.TextIncludes)
	set("textNotIncludes", q.TextNotIncludes)
	set("regexIncludes", q.RegexIncludes)
	set("regexNotIncludes", q.RegexNotIncludes)
	return v
}

// Logs runs a range query (GET /api/v1/logs).
func (c *Client) Logs(ctx context.Context, q LogQuery) ([]model.LogRecord, error) {
	var recs []model.LogRecord
	if err := c.get(ctx, "/api/v1/logs", q.Values(), &recs); err != nil {
		return nil, err
	}
	return recs, nil
}

// TailLogs follows GET /api/v1/logs/tail and calls fn for every line until
// ctx ends, the server ends the stream, or fn fails.
func (c *Client) TailLogs(ctx context.Context, q LogQuery, fn func(model.LogRecord) error) error {
	u := c.base.JoinPath("/api/v1/logs/tail")
	u.RawQuery = q.Values().Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "text/event-stream")
	// A stream has no overall deadline: it ends with ctx.
	hc := &http.Client{Transport: c.http.Transport}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("cannot reach opshub at %s (is `opshub run` running? set --server or OPSHUB_SERVER): %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		apiErr := &APIError{StatusCode: resp.StatusCode}
		var e struct{ Error, Field string }
		if json.NewDecoder(resp.Body).Decode(&e) == nil {
			apiErr.Message, apiErr.Field = e.Error, e.Field
		}
		return apiErr
	}
	err = ReadLogEvents(resp.Body, fn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("live tail: %w", err)
	}
	return nil
}

// ReadLogEvents reads a live tail's Server-Sent Events from r (a log
// record as JSON per "data:" line; an "error" event ends it with that
// error) and calls fn with each record, until r ends or fn fails.
func ReadLogEvents(r io.Reader, fn func(model.LogRecord) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	event := ""
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			event = ""
		case bytes.HasPrefix(line, []byte("event: ")):
			event = string(line[len("event: "):])
		case bytes.HasPrefix(line, []byte("data: ")):
			data := line[len("data: "):]
			if event == "error" {
				var e struct{ Error string }
				_ = json.Unmarshal(data, &e)
				return errors.New(e.Error)
			}
			var rec model.LogRecord
			if err := json.Unmarshal(data, &rec); err != nil {
				return fmt.Errorf("decode line: %w", err)
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
	}
	return sc.Err()
}
