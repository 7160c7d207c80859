package app

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/platform/kubernetes"
)

// TestPlanGroupsOnKubernetes resolves what groups give Kubernetes
// workloads: selection by project, service and tag, the order of envFrom
// (lowest priority first, so the higher wins), the variables the
// container's own env hides, and a tie naming both groups.
func TestPlanGroupsOnKubernetes(t *testing.T) {
	cfg := &config.Config{Groups: []config.Group{
		{Name: "db", Kind: config.GroupSecret, Priority: 10, Selector: config.GroupSelector{Projects: []string{"shop"}, Tags: []string{"db"}},
			Data: map[string]config.Secret{"DB_PASSWORD": "pw", "REGION": "db-region"}},
		{Name: "settings", Kind: config.GroupConfig, Selector: config.GroupSelector{Projects: []string{"shop"}},
			Data: map[string]config.Secret{"REGION": "eu", "LOG_LEVEL": "info"}},
		{Name: "web-only", Kind: config.GroupConfig, Priority: 10, Selector: config.GroupSelector{Services: []string{"web"}},
			Data: map[string]config.Secret{"REGION": "web-region"}},
		{Name: "nothing", Kind: config.GroupConfig, Data: map[string]config.Secret{"X": "1"}},
	}}
	for _, tc := range []struct {
		name    string
		w       kubernetes.GroupWorkload
		groups  []string
		env     map[string]string
		sources map[string]string
		err     string
	}{
		{
			name:    "tagged db: settings then db, db's REGION wins",
			w:       kubernetes.GroupWorkload{Project: "shop", Service: "worker", Tags: []string{"db"}},
			groups:  []string{"config/settings", "secret/db"},
			env:     map[string]string{"DB_PASSWORD": "pw", "REGION": "db-region", "LOG_LEVEL": "info"},
			sources: map[string]string{"DB_PASSWORD": "group db (secret)", "REGION": "group db (secret)", "LOG_LEVEL": "group settings"},
		},
		{
			name:    "untagged: the project's group only",
			w:       kubernetes.GroupWorkload{Project: "shop", Service: "static"},
			groups:  []string{"config/settings"},
			env:     map[string]string{"REGION": "eu", "LOG_LEVEL": "info"},
			sources: map[string]string{"REGION": "group settings", "LOG_LEVEL": "group settings"},
		},
		{
			name:    "the container's own env hides a group's variable",
			w:       kubernetes.GroupWorkload{Project: "shop", Service: "static", OwnEnv: []string{"LOG_LEVEL"}},
			groups:  []string{"config/settings"},
			env:     map[string]string{"REGION": "eu"},
			sources: map[string]string{"REGION": "group settings"},
		},
		{
			name: "another project: nothing",
			w:    kubernetes.GroupWorkload{Project: "other", Service: "static", Tags: []string{"db"}},
			env:  map[string]string{},
		},
		{
			name:   "two groups of priority 10 set REGION for web",
			w:      kubernetes.GroupWorkload{Project: "shop", Service: "web", Tags: []string{"db"}},
			groups: []string{"config/settings", "secret/db", "config/web-only"},
			err:    `REGION is set at priority 10 by both group "db" and group "web-only"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planGroups(cfg, tc.w)
			var groups []string
			for _, g := range p.want.Groups {
				groups = append(groups, g.Kind+"/"+g.Name)
			}
			if !slices.Equal(groups, tc.groups) {
				t.Errorf("groups %q, want %q", groups, tc.groups)
			}
			if tc.err != "" {
				if p.err == nil || !strings.Contains(p.err.Error(), tc.err) {
					t.Errorf("error %v, want %q", p.err, tc.err)
				}
				return
			}
			if p.err != nil {
				t.Fatal(p.err)
			}
			if !maps.Equal(p.want.Env, tc.env) {
				t.Errorf("env %v, want %v", p.want.Env, tc.env)
			}
			for k, want := range tc.sources {
				src := p.want.Sources[k]
				got := src.From
				if src.Secret {
					got += " (secret)"
				}
				if got != want {
					t.Errorf("source of %s: %q, want %q", k, got, want)
				}
			}
			if len(p.objects) != len(tc.groups) {
				t.Errorf("%d objects for %d groups", len(p.objects), len(tc.groups))
			}
		})
	}
}
