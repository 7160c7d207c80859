// Package client is the Go client of opshub's HTTP API, used by the CLI's
// client commands (status, logs, metrics, …) and by tests. It speaks only the
// public API and imports nothing from the server side but the shared model.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
)

// DefaultServer is the API address used when none is given.
const DefaultServer = "http://127.0.0.1:7420"

// Client talks to one opshub API server.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client for the server at base ("http://host:port"; a bare
// "host:port" is taken as http). token may be empty.
func New(base, token string) (*Client, error) {
	if base == "" {
		base = DefaultServer
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("server address %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("server address %q: scheme must be http or https", base)
	}
	return &Client{base: u, token: token, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// APIError is an error answered by the server.
type APIError struct {
	StatusCode int
	Message    string
	Field      string
}

func (e *APIError) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return fmt.Sprintf("server answered %d: %s", e.StatusCode, msg)
}

// NotFound reports whether err is an API error with status 404.
func NotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound
}

func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, query, nil, out)
}

// postEmpty sends a POST without a body and decodes the answer into out.
func (c *Client) postEmpty(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodPost, path, nil, nil, out)
}

// postJSON sends in as a JSON body and decodes the answer into out.
func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	return c.do(ctx, http.MethodPost, path, nil, in, out)
}

// do sends one request (with in as a JSON body unless it is nil), turns a
// 3xx–5xx answer into an *APIError with the server's message and field, and
// decodes a successful answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := c.base.JoinPath(path)
	u.RawQuery = query.Encode()
	var reqBody io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request of %s: %w", path, err)
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), reqBody)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach opshub at %s (is `opshub run` running? set --server or OPSHUB_SERVER): %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read response of %s: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		return apiError(resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode response of %s: %w", path, err)
	}
	return nil
}

// apiError reads the server's error body ({"error", "field"}, or text).
func apiError(code int, body []byte) *APIError {
	apiErr := &APIError{StatusCode: code}
	var e struct{ Error, Field string }
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		apiErr.Message, apiErr.Field = e.Error, e.Field
	} else {
		apiErr.Message = strings.TrimSpace(string(body))
	}
	return apiErr
}

type servicesBody struct {
	Services []model.Service `json:"services"`
}

// Services lists every service.
func (c *Client) Services(ctx context.Context) ([]model.Service, error) {
	var body servicesBody
	if err := c.get(ctx, "/api/v1/services", nil, &body); err != nil {
		return nil, err
	}
	return body.Services, nil
}

// Service returns one service.
func (c *Client) Service(ctx context.Context, project, name string) (model.Service, error) {
	var body servicesBody
	if err := c.get(ctx, "/api/v1/services/"+url.PathEscape(project)+"/"+url.PathEscape(name), nil, &body); err != nil {
		return model.Service{}, err
	}
	if len(body.Services) != 1 {
		return model.Service{}, fmt.Errorf("service %s/%s: server returned %d services", project, name, len(body.Services))
	}
	return body.Services[0], nil
}
