package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/opshub/opshub/model"
)

// ReloadError is a reload the server refused or could not finish; Reload
// lists every problem (Reload.Errors), each with its line where it has one.
type ReloadError struct {
	APIError
	Reload model.ConfigReload
}

func (e *ReloadError) Error() string { return e.APIError.Error() }

// Unwrap lets errors.As find the *APIError.
func (e *ReloadError) Unwrap() error { return &e.APIError }

// ReloadConfig asks the server to re-read its config file
// (POST /api/v1/config/reload, scope admin). A refused file is a
// *ReloadError; the server then goes on with its running config.
func (c *Client) ReloadConfig(ctx context.Context) (model.ConfigReload, error) {
	const path = "/api/v1/config/reload"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath(path).String(), nil)
	if err != nil {
		return model.ConfigReload{}, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return model.ConfigReload{}, fmt.Errorf("cannot reach opshub at %s (is `opshub run` running? set --server or OPSHUB_SERVER): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return model.ConfigReload{}, fmt.Errorf("read response of %s: %w", path, err)
	}
	var body struct {
		Error  string             `json:"error"`
		Field  string             `json:"field"`
		Reload model.ConfigReload `json:"reload"`
	}
	decodeErr := json.Unmarshal(data, &body)
	if resp.StatusCode >= 300 {
		e := &ReloadError{APIError: APIError{StatusCode: resp.StatusCode, Message: body.Error, Field: body.Field}, Reload: body.Reload}
		if decodeErr != nil || body.Error == "" {
			e.Message = string(data)
		}
		return body.Reload, e
	}
	if decodeErr != nil {
		return model.ConfigReload{}, fmt.Errorf("decode response of %s: %w", path, decodeErr)
	}
	return body.Reload, nil
}
