package client

import (
	"context"
	"net/url"

	"github.com/opshub/opshub/jobs"
)

// JobRun is one run of a job, as GET /api/v1/jobs/{project}/{name}/runs
// lists them: the jobs engine's own record.
type JobRun = jobs.Run

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
