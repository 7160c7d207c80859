package client

import (
	"context"
	"net/url"
	"time"
)

// FlowRun is one run of a release flow.
type FlowRun struct {
	ID      string            `json:"id"`
	Flow    string            `json:"flow"`
	State   string            `json:"state"`
	Trigger FlowTrigger       `json:"trigger"`
	Args    map[string]string `json:"args"`
	Steps   []FlowStep        `json:"steps"`
	Created time.Time         `json:"created"`
	Started time.Time         `json:"started,omitzero"`
	// Finished is zero until the run has ended.
	Finished time.Time     `json:"finished,omitzero"`
	Message  string        `json:"message,omitempty"`
	Releases []FlowRelease `json:"releases,omitempty"`
}

// Done tells whether the run has ended.
func (r FlowRun) Done() bool { return r.State != "queued" && r.State != "running" }

// FlowTrigger says what started a run.
type FlowTrigger struct {
	Kind       string `json:"kind"`
	By         string `json:"by,omitempty"`
	Provider   string `json:"provider,omitempty"`
	Delivery   string `json:"delivery,omitempty"`
	RollbackOf string `json:"rollbackOf,omitempty"`
}

// FlowStep is the state of one step of a run.
type FlowStep struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	Started    time.Time `json:"started,omitzero"`
	Finished   time.Time `json:"finished,omitzero"`
	Message    string    `json:"message,omitempty"`
	Revision   int       `json:"revision,omitempty"`
	JobRun     string    `json:"jobRun,omitempty"`
	Backup     string    `json:"backup,omitempty"`
	ApprovedBy string    `json:"approvedBy,omitempty"`
}

// FlowRelease is a service a run released and the revision it ran before.
type FlowRelease struct {
	Project  string `json:"project"`
	Service  string `json:"service"`
	Previous int    `json:"previous"`
}

// Flow is a configured flow.
type Flow struct {
	Name        string   `json:"name"`
	Concurrency string   `json:"concurrency"`
	Triggers    []string `json:"triggers"`
	Git         []struct {
		Repo    string    `json:"repo"`
		Branch  string    `json:"branch"`
		Head    string    `json:"head,omitempty"`
		Checked time.Time `json:"checked,omitzero"`
		Error   string    `json:"error,omitempty"`
	} `json:"git,omitempty"`
	Steps []struct {
		Name  string   `json:"name"`
		Kind  string   `json:"kind"`
		Needs []string `json:"needs"`
	} `json:"steps"`
	LastRun *FlowRun `json:"lastRun,omitempty"`
}

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
