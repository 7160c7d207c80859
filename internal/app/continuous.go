package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/release/continuous"
	"github.com/opshub/opshub/release/flow"
	"github.com/opshub/opshub/server"
	"github.com/opshub/opshub/store"
)

// continuousTargets maps release.continuous and the image triggers of
// release.flows onto the watcher's targets.
func continuousTargets(cfg *config.Config) []continuous.Target {
	var out []continuous.Target
	for _, c := range cfg.Release.Continuous {
		out = append(out, continuous.Target{Project: c.Project, Service: c.Service, Container: c.Container, Source: imageSource(c.ImageWatch)})
	}
	for _, f := range cfg.Release.Flows {
		for _, t := range f.Triggers {
			if t.Image != nil {
				out = append(out, continuous.Target{Flow: f.Name, Source: imageSource(t.Image.ImageWatch)})
			}
		}
	}
	return out
}

func imageSource(w config.ImageWatch) continuous.Source {
	return continuous.Source{
		Image: w.Image, Tag: w.Tag, Semver: w.Semver, Interval: w.PollInterval.D(),
		Auth: continuous.Auth{
			Username: w.Auth.Username, Password: w.Auth.Password.Value(), Token: w.Auth.Token.Value(),
			PullSecret: w.Auth.PullSecret, DockerConfigFile: w.Auth.DockerConfigFile,
		},
	}
}

// flowImages starts flow runs for the image triggers.
type flowImages struct{ engine *flow.Engine }

func (f flowImages) StartImage(name, by string, args map[string]string) (string, error) {
	run, err := f.engine.Start(name, flow.Trigger{Kind: flow.TriggerImage, By: by}, args)
	return run.ID, err
}

// newContinuous builds the watcher of the config's continuous deployments
// and image triggers; nil when there are none. pullSecret reads image pull
// Secrets (Kubernetes; nil on one machine).
func newContinuous(cfg *config.Config, rels continuous.Releases, flows *flow.Engine, pullSecret func(ctx context.Context, namespace, name string) ([]byte, error), db *store.DB, log *slog.Logger) (*continuous.Watcher, error) {
	targets := continuousTargets(cfg)
	if len(targets) == 0 {
		return nil, nil
	}
	w, err := continuous.New(targets, continuous.Options{DB: db, Releases: rels, Flows: flowImages{flows}, PullSecret: pullSecret, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("continuous deployment: %w", err)
	}
	return w, nil
}

// continuousAPI is what the server is given: nil (no continuous
// deployment) stays an untyped nil.
func continuousAPI(w *continuous.Watcher) server.Continuous {
	if w == nil {
		return nil
	}
	return w
}
