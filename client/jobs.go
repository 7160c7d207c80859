package client

import (
	"context"
	"net/url"
	"time"
)

// JobRun is one run of a job, as GET /api/v1/jobs/{project}/{name}/runs
// lists them.
type JobRun struct {
	ID        string            `json:"id"`
	Project   string            `json:"project"`
	Job       string            `json:"job"`
	State     string            `json:"state"`
	Trigger   string            `json:"trigger"`
	Env       map[string]string `json:"env,omitempty"`
	Started   time.Time         `json:"started"`
	Finished  time.Time         `json:"finished,omitzero"`
	ExitCode  *int              `json:"exitCode,omitempty"`
	Attempts  int               `json:"attempts"`
	Instances []string          `json:"instances"`
	Message   string            `json:"message,omitempty"`
}

func jobPath(project, name string) string {
	return "/api/v1/jobs/" + url.PathEscape(project) + "/" + url.PathEscape(name) + "/runs"
}

// RunJob starts a run of a job now (deploy scope).
func (c *Client) RunJob(ctx context.Context, project, name string, env map[string]string) (JobRun, error) {
	var out struct {
		Run JobRun `json:"run"`
	}
	err := c.postJSON(ctx, jobPath(project, name), map[string]any{"env": env}, &out)
	return out.Run, err
}

// JobRuns lists a job's runs, newest first.
func (c *Client) JobRuns(ctx context.Context, project, name string) ([]JobRun, error) {
	var out struct {
		Runs []JobRun `json:"runs"`
	}
	err := c.get(ctx, jobPath(project, name), nil, &out)
	return out.Runs, err
}
