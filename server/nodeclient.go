package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/collector"
	"github.com/opshub/opshub/model"
)

// NodeRequestTimeout bounds one request of a NodeClient (a live tail
// excepted): collectors answer on the cluster network.
const NodeRequestTimeout = 10 * time.Second

// maxNodeAnswer bounds what one answer of a collector may be.
const maxNodeAnswer = 256 << 20

// NodeClient is the controller's half of the collectors' node API, whose
// other half this package serves on every collector: the samples a node
// recorded (GET /api/v1/node/samples) and the log endpoints, asked with
// the controller's own bearer token. The zero value asks without a token
// and with NodeRequestTimeout.
type NodeClient struct {
	// HTTP sends the requests; nil: a client with NodeRequestTimeout.
	HTTP *http.Client
	// Token returns the bearer token to send (read again for every
	// request, as a projected token is renewed); nil or "": none.
	Token func() (string, error)
}

// NodeAPIError is an error a collector answered.
type NodeAPIError struct {
	Path       string
	StatusCode int
	Message    string
}

func (e *NodeAPIError) Error() string {
	return fmt.Sprintf("%s: collector answered %d: %s", e.Path, e.StatusCode, e.Message)
}

func nodeAPIError(path string, code int, body []byte) error {
	var e apiError
	msg := string(body)
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return &NodeAPIError{Path: path, StatusCode: code, Message: msg}
}

// Samples asks the collector at base for the samples its node recorded
// after since (zero: all it holds), and returns them with the cursor to ask
// with next time (since again when nothing was new).
func (c NodeClient) Samples(ctx context.Context, base string, since time.Time) (samples []model.Sample, next time.Time, err error) {
	// In series form: a collector that does not know it answers the
	// samples one by one, which this reads as well.
	q := url.Values{"form": {"series"}}
	if !since.IsZero() {
		q.Set("since", since.Format(time.RFC3339Nano))
	}
	var body nodeSamplesResponse
	if err := c.get(ctx, base, "/api/v1/node/samples", q, &body); err != nil {
		return nil, since, err
	}
	if body.Next.IsZero() {
		body.Next = since
	}
	return body.samples(), body.Next, nil
}

// Logs runs a log query on the collector at base (GET /api/v1/logs).
func (c NodeClient) Logs(ctx context.Context, base string, q collector.Query) ([]model.LogRecord, error) {
	var recs []model.LogRecord
	if err := c.get(ctx, base, "/api/v1/logs", logQueryValues(q), &recs); err != nil {
		return nil, err
	}
	return recs, nil
}

// TailLogs follows the collector's live tail (GET /api/v1/logs/tail) and
// calls send with every line until ctx ends or the stream does.
func (c NodeClient) TailLogs(ctx context.Context, base string, q collector.Query, send func(model.LogRecord) error) error {
	const path = "/api/v1/logs/tail"
	req, err := c.request(ctx, base, path, logQueryValues(q))
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	// A tail has no end: only the connection, not the whole exchange, may
	// time out.
	resp, err := (&http.Client{Transport: c.httpClient().Transport}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return nodeAPIError(path, resp.StatusCode, b)
	}
	if err := client.ReadLogEvents(resp.Body, send); err != nil && ctx.Err() == nil {
		return fmt.Errorf("tail: %w", err)
	}
	return nil
}

func (c NodeClient) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: NodeRequestTimeout}
}

// request builds a GET of path on the collector at base.
func (c NodeClient) request(ctx context.Context, base, path string, q url.Values) (*http.Request, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("collector URL %q: %w", base, err)
	}
	u = u.JoinPath(path)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if c.Token != nil {
		t, err := c.Token()
		if err != nil {
			return nil, err
		}
		if t != "" {
			req.Header.Set("Authorization", "Bearer "+t)
		}
	}
	return req, nil
}

// get sends one GET and decodes the JSON answer into out.
func (c NodeClient) get(ctx context.Context, base, path string, q url.Values, out any) error {
	req, err := c.request(ctx, base, path, q)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return nodeAPIError(path, resp.StatusCode, b)
	}
	// Decoded as it arrives: an answer is not held whole beside what it
	// decodes to.
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxNodeAnswer)).Decode(out); err != nil {
		return fmt.Errorf("%s: decode answer: %w", path, err)
	}
	return nil
}

// logQueryValues writes q as the log endpoints' parameters (what
// parseLogQuery reads back), as the API client writes them.
func logQueryValues(q collector.Query) url.Values {
	lq := client.LogQuery{
		Project: q.Project, Service: q.Service, Container: q.Container,
		From: q.From, To: q.To, Limit: q.Limit, Direction: string(q.Direction),
		TextIncludes: q.TextIncludes, TextNotIncludes: q.TextNotIncludes,
	}
	if q.RegexIncludes != nil {
		lq.RegexIncludes = q.RegexIncludes.String()
	}
	if q.RegexNotIncludes != nil {
		lq.RegexNotIncludes = q.RegexNotIncludes.String()
	}
	return lq.Values()
}
