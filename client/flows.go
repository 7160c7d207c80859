package client

import (
	"context"
	"net/url"

	"github.com/opshub/opshub/release/flow"
)

// FlowRun is one run of a release flow, FlowTrigger what started it,
// FlowStep the state of one of its steps and FlowRelease a service it
// released with the revision that ran before: the flow engine's own types,
// as the API writes them.
type (
	FlowRun     = flow.Run
	FlowTrigger = flow.Trigger
	FlowStep    = flow.StepState
	FlowRelease = flow.Changed
)

// Flow is a configured flow as GET /api/v1/flows lists it.
type Flow = flow.Listing

func flowRunPath(id string, rest ...string) string {
	p := "/api/v1/flows/runs/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

type flowRunBody struct {
	Run FlowRun `json:"run"`
}

// Flows lists the configured flows.
func (c *Client) Flows(ctx context.Context) ([]Flow, error) {
	var out struct {
		Flows []Flow `json:"flows"`
	}
	err := c.get(ctx, "/api/v1/flows", nil, &out)
	return out.Flows, err
}

// RunFlow starts (or queues) a run of a flow with args (deploy scope).
func (c *Client) RunFlow(ctx context.Context, name string, args map[string]string) (FlowRun, error) {
	var out flowRunBody
	err := c.postJSON(ctx, "/api/v1/flows/"+url.PathEscape(name)+"/runs", map[string]any{"args": args}, &out)
	return out.Run, err
}

// FlowRuns lists the runs of a flow ("" for all), newest first.
func (c *Client) FlowRuns(ctx context.Context, flow string) ([]FlowRun, error) {
	var out struct {
		Runs []FlowRun `json:"runs"`
	}
	q := url.Values{}
	if flow != "" {
		q.Set("flow", flow)
	}
	err := c.get(ctx, "/api/v1/flows/runs", q, &out)
	return out.Runs, err
}

// FlowRun reads one run.
func (c *Client) FlowRun(ctx context.Context, id string) (FlowRun, error) {
	var out FlowRun
	err := c.get(ctx, flowRunPath(id), nil, &out)
	return out, err
}

// FlowStepLogs reads the kept output of one step of a run.
func (c *Client) FlowStepLogs(ctx context.Context, id, step string) ([]string, error) {
	var out struct {
		Lines []string `json:"lines"`
	}
	err := c.get(ctx, flowRunPath(id, "steps", step, "logs"), nil, &out)
	return out.Lines, err
}

// CancelFlowRun cancels a queued or running run.
func (c *Client) CancelFlowRun(ctx context.Context, id string) (FlowRun, error) {
	var out flowRunBody
	err := c.postEmpty(ctx, flowRunPath(id, "cancel"), &out)
	return out.Run, err
}

// RollbackFlowRun starts the run that puts back what run id released.
func (c *Client) RollbackFlowRun(ctx context.Context, id string) (FlowRun, error) {
	var out flowRunBody
	err := c.postEmpty(ctx, flowRunPath(id, "rollback"), &out)
	return out.Run, err
}

// ApproveFlowStep approves a waiting approval step.
func (c *Client) ApproveFlowStep(ctx context.Context, id, step string) (FlowRun, error) {
	var out flowRunBody
	err := c.postEmpty(ctx, flowRunPath(id, "steps", step, "approve"), &out)
	return out.Run, err
}
