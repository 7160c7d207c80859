package client

import (
	"context"
	"net/url"

	"github.com/opshub/opshub/model"
)

// Sinks lists the log sinks with their state.
func (c *Client) Sinks(ctx context.Context) ([]model.SinkStatus, error) {
	var body struct {
		Sinks []model.SinkStatus `json:"sinks"`
	}
	if err := c.get(ctx, "/api/v1/sinks", nil, &body); err != nil {
		return nil, err
	}
	return body.Sinks, nil
}

// PauseSink stops deliveries of a sink; its records wait in its buffer.
func (c *Client) PauseSink(ctx context.Context, name string) (model.SinkStatus, error) {
	return c.sinkAction(ctx, name, "pause")
}

// ResumeSink lets a paused sink deliver again.
func (c *Client) ResumeSink(ctx context.Context, name string) (model.SinkStatus, error) {
	return c.sinkAction(ctx, name, "resume")
}

func (c *Client) sinkAction(ctx context.Context, name, action string) (model.SinkStatus, error) {
	var body struct {
		Sink model.SinkStatus `json:"sink"`
	}
	err := c.postEmpty(ctx, "/api/v1/sinks/"+url.PathEscape(name)+"/"+action, &body)
	return body.Sink, err
}

// CollectorStatus says whether the log collector reads, and if not, why.
// A server that runs no collector (the controller) answers 404: see
// NotFound.
func (c *Client) CollectorStatus(ctx context.Context) (model.CollectorStatus, error) {
	var body struct {
		Collector model.CollectorStatus `json:"collector"`
	}
	err := c.get(ctx, "/api/v1/collector", nil, &body)
	return body.Collector, err
}
