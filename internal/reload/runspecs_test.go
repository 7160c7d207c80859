package reload

import (
	"context"
	"slices"
	"testing"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/model"
)

// releases records what a reload hands the release engine.
type releases struct{ changed map[model.Ref]model.RunSpec }

func (r *releases) CheckConfig(context.Context, model.Ref, model.RunSpec) error { return nil }

func (r *releases) ConfigChanged(_ context.Context, ref model.Ref, spec model.RunSpec) (*model.Release, error) {
	r.changed[ref] = spec
	return nil, nil
}

const groupsBase = `
workloads:
  - {name: web, project: demo, command: [web], tags: [api]}
  - {name: migrate, project: demo, command: [migrate], restartPolicy: Never}
`

// TestReloadHandsGroupChangesToTheReleaseEngine: a group change reaches the
// engine as each service's resolved spec, with sources and secret flags;
// groups and tags are not named as needing a restart, except the changed
// environment of a job, which starts with opshub.
func TestReloadHandsGroupChangesToTheReleaseEngine(t *testing.T) {
	parse := func(text string) *config.Config {
		t.Helper()
		cfg, err := config.Parse([]byte(groupsBase+text), "opshub.yaml", nil)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	started := parse(`groups:
  - {name: db, kind: secret, selector: {projects: [demo]}, data: {DB_PASSWORD: one}}
`)
	for _, tc := range []struct {
		name, next string
		web        model.RunSpec
		restart    []string
	}{{
		name: "a secret's new value",
		next: `groups:
  - {name: db, kind: secret, selector: {projects: [demo]}, data: {DB_PASSWORD: two}}
`,
		web:     model.RunSpec{Command: []string{"web"}, Env: map[string]string{"DB_PASSWORD": "two"}, Sources: map[string]model.EnvSource{"DB_PASSWORD": {From: "group db", Secret: true}}},
		restart: []string{"groups (env of job demo/migrate)"},
	}, {
		name: "a selector that leaves the job out, and a tag",
		next: `groups:
  - {name: db, kind: secret, selector: {tags: [api, db]}, data: {DB_PASSWORD: one}}
`,
		web:     model.RunSpec{Command: []string{"web"}, Env: map[string]string{"DB_PASSWORD": "one"}, Sources: map[string]model.EnvSource{"DB_PASSWORD": {From: "group db", Secret: true}}},
		restart: []string{"groups (env of job demo/migrate)"},
	}, {
		name: "a config group instead",
		next: `groups:
  - {name: settings, kind: config, selector: {services: [web, migrate]}, data: {DB_PASSWORD: one}}
`,
		web:     model.RunSpec{Command: []string{"web"}, Env: map[string]string{"DB_PASSWORD": "one"}, Sources: map[string]model.EnvSource{"DB_PASSWORD": {From: "group settings"}}},
		restart: []string{"groups (env of job demo/migrate)"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			next := parse(tc.next)
			r := New(started, Options{Path: "opshub.yaml", Load: func(string) (*config.Config, error) { return next, nil }})
			rels := &releases{changed: map[model.Ref]model.RunSpec{}}
			r.SetReleases(rels)
			res, err := r.Reload(t.Context())
			if err != nil || !res.Applied {
				t.Fatalf("Reload = %+v, %v", res, err)
			}
			if !slices.Equal(res.RestartRequired, tc.restart) {
				t.Errorf("restartRequired = %q, want %q", res.RestartRequired, tc.restart)
			}
			got, ok := rels.changed[model.Ref{Project: "demo", Service: "web"}]
			if len(rels.changed) != 1 || !ok || !got.Equal(tc.web) || !got.SameSources(tc.web) {
				t.Errorf("the engine got %+v, want web's spec %+v", rels.changed, tc.web)
			}
		})
	}
}
