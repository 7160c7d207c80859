package client

import (
	"context"
	"net/url"
)

// ScaleResult is the answer to a manual scale.
type ScaleResult struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Previous int    `json:"previous"`
	Replicas int    `json:"replicas"`
	// Warning is set when an autoscaling policy manages the service and
	// may change the replicas again.
	Warning string `json:"warning,omitempty"`
}

// Scale sets the desired replicas of a service (deploy scope).
func (c *Client) Scale(ctx context.Context, project, service string, replicas int) (ScaleResult, error) {
	var out ScaleResult
	err := c.postJSON(ctx, "/api/v1/services/"+url.PathEscape(project)+"/"+url.PathEscape(service)+"/scale",
		map[string]int{"replicas": replicas}, &out)
	return out, err
}
