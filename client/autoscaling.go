package client

import (
	"context"
	"net/url"

	"github.com/opshub/opshub/autoscaler"
)

// AutoscalingDecision is one autoscaling decision with its explanation and
// AutoscalingProposal one metric's part of it: the autoscaler's own types.
type (
	AutoscalingDecision = autoscaler.ServiceDecision
	AutoscalingProposal = autoscaler.Proposal
)

// Autoscaling returns the latest decision of every policy, or every recent
// one with history.
func (c *Client) Autoscaling(ctx context.Context, history bool) ([]AutoscalingDecision, error) {
	q := url.Values{}
	if history {
		q.Set("history", "true")
	}
	var out struct {
		Decisions []AutoscalingDecision `json:"decisions"`
	}
	err := c.get(ctx, "/api/v1/autoscaling", q, &out)
	return out.Decisions, err
}
