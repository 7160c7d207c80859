package client

import (
	"context"
	"net/url"
	"time"
)

// AutoscalingProposal is one metric's part of a decision.
type AutoscalingProposal struct {
	Resource    string `json:"resource"`
	Utilization int    `json:"utilization"`
	Target      int    `json:"target"`
	Proposal    int    `json:"proposal"`
	Note        string `json:"note,omitempty"`
	Invalid     string `json:"invalid,omitempty"`
}

// AutoscalingDecision is one autoscaling decision with its explanation.
type AutoscalingDecision struct {
	Project     string                `json:"project"`
	Service     string                `json:"service"`
	Time        time.Time             `json:"time"`
	Current     int                   `json:"current"`
	Desired     int                   `json:"desired"`
	Recommended int                   `json:"recommended"`
	Metrics     []AutoscalingProposal `json:"metrics"`
	Limit       string                `json:"limit"`
	Reason      string                `json:"reason"`
	MinReplicas int                   `json:"minReplicas"`
	MaxReplicas int                   `json:"maxReplicas"`
}

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
