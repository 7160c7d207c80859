package client

import (
	"context"
	"net/url"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/release"
)

// DeployRequest is the body of a deploy: every field is optional, at least
// one must change something. UnsetEnv removes variables. It is the release
// manager's Change.
type DeployRequest = release.Change

type releaseBody struct {
	Release model.Release `json:"release"`
}

func servicePath(project, service, rest string) string {
	return "/api/v1/services/" + url.PathEscape(project) + "/" + url.PathEscape(service) + rest
}

// Deploy starts a release of a service (deploy scope).
func (c *Client) Deploy(ctx context.Context, project, service string, req DeployRequest) (model.Release, error) {
	var out releaseBody
	err := c.postJSON(ctx, servicePath(project, service, "/deploy"), req, &out)
	return out.Release, err
}

// Rollback starts a release that restores revision (0: the previous good
// one) (deploy scope).
func (c *Client) Rollback(ctx context.Context, project, service string, revision int) (model.Release, error) {
	var out releaseBody
	body := map[string]int{}
	if revision > 0 {
		body["revision"] = revision
	}
	err := c.postJSON(ctx, servicePath(project, service, "/rollback"), body, &out)
	return out.Release, err
}

// Releases lists a service's releases, newest first.
func (c *Client) Releases(ctx context.Context, project, service string) ([]model.Release, error) {
	var out struct {
		Releases []model.Release `json:"releases"`
	}
	err := c.get(ctx, servicePath(project, service, "/releases"), nil, &out)
	return out.Releases, err
}

// Env lists the variables an instance of the service gets, each with its
// source; secret values are "<secret>" (GET …/env).
func (c *Client) Env(ctx context.Context, project, service string) ([]model.EnvVar, error) {
	var out struct {
		Env []model.EnvVar `json:"env"`
	}
	err := c.get(ctx, servicePath(project, service, "/env"), nil, &out)
	return out.Env, err
}

// Continuous is the state of the service's continuous deployments (GET
// …/continuous); empty when it has none.
func (c *Client) Continuous(ctx context.Context, project, service string) ([]model.ContinuousState, error) {
	var out continuousBody
	err := c.get(ctx, servicePath(project, service, "/continuous"), nil, &out)
	return out.Continuous, err
}

// ResumeContinuous turns the service's continuous deployment on again
// after a deploy by hand paused it (deploy scope).
func (c *Client) ResumeContinuous(ctx context.Context, project, service string) ([]model.ContinuousState, error) {
	var out continuousBody
	err := c.postEmpty(ctx, servicePath(project, service, "/continuous/resume"), &out)
	return out.Continuous, err
}

type continuousBody struct {
	Continuous []model.ContinuousState `json:"continuous"`
}
