package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// resolve parses a config of workloads and groups in a fresh directory
// holding files, and returns each workload's environment as NAME=VALUE
// (source[, secret]) lines.
func resolveEnv(t *testing.T, yaml string, files map[string]string) (map[string][]string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	cfg, err := Parse([]byte(yaml), "groups.yaml", nil)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, w := range cfg.Workloads {
		var lines []string
		for _, e := range cfg.Env(w) {
			l := e.Name + "=" + e.Value.Value() + " (" + e.Source
			if e.Secret {
				l += ", secret"
			}
			lines = append(lines, l+")")
		}
		out[w.Name] = lines
	}
	return out, nil
}

const twoWorkloads = `
workloads:
  - {name: web, project: demo, command: [web], tags: [api, public], env: {OWN: web}}
  - {name: worker, project: demo, command: [worker], tags: [batch]}
  - {name: other, project: shop, command: [other], tags: [api]}
groups:
`

func TestGroupResolution(t *testing.T) {
	cases := []struct {
		name   string
		groups string
		files  map[string]string
		want   map[string][]string
	}{{
		name: "the higher priority wins on a shared key, whatever the order in the file",
		groups: `
  - {name: high, kind: config, priority: 20, selector: {projects: [demo]}, data: {A: high, H: "1"}}
  - {name: low, kind: secret, priority: 5, selector: {projects: [demo]}, data: {A: low, L: "1"}}`,
		want: map[string][]string{
			"web":    {"A=high (group high)", "H=1 (group high)", "L=1 (group low, secret)", "OWN=web (workload)"},
			"worker": {"A=high (group high)", "H=1 (group high)", "L=1 (group low, secret)"},
			"other":  nil,
		},
	}, {
		name: "the workload's own env wins over every group",
		groups: `
  - {name: top, kind: secret, priority: 100, selector: {services: [web]}, data: {OWN: group}}`,
		want: map[string][]string{"web": {"OWN=web (workload)"}, "worker": nil, "other": nil},
	}, {
		name: "data wins over fromEnvFile within a group",
		groups: `
  - {name: env, kind: config, selector: {services: [worker]}, data: {B: data}, fromEnvFile: ./g.env}`,
		files: map[string]string{"g.env": "# settings\nexport A=file\nB=file\nC='quoted value'\n"},
		want:  map[string][]string{"web": {"OWN=web (workload)"}, "worker": {"A=file (group env)", "B=data (group env)", "C=quoted value (group env)"}, "other": nil},
	}, {
		name: "every listed selector field must match; a tag matches if the workload has any listed tag",
		groups: `
  - {name: api-demo, kind: config, selector: {projects: [demo], tags: [api]}, data: {X: "1"}}
  - {name: any-api, kind: config, selector: {tags: [batch, api]}, data: {Y: "1"}}
  - {name: shop, kind: config, selector: {projects: [shop], services: [web]}, data: {Z: "1"}}`,
		want: map[string][]string{
			"web":    {"OWN=web (workload)", "X=1 (group api-demo)", "Y=1 (group any-api)"},
			"worker": {"Y=1 (group any-api)"},
			"other":  {"Y=1 (group any-api)"},
		},
	}, {
		name: "an empty selector matches nothing",
		groups: `
  - {name: none, kind: config, selector: {}, data: {X: "1"}}
  - {name: unset, kind: config, data: {Y: "1"}}`,
		want: map[string][]string{"web": {"OWN=web (workload)"}, "worker": nil, "other": nil},
	}, {
		name: "one priority, one key, but no workload selected by both: no tie",
		groups: `
  - {name: a, kind: config, selector: {services: [web]}, data: {K: a}}
  - {name: b, kind: config, selector: {services: [worker]}, data: {K: b}}`,
		want: map[string][]string{"web": {"K=a (group a)", "OWN=web (workload)"}, "worker": {"K=b (group b)"}, "other": nil},
	}, {
		name: "a secret file's content is kept as it is",
		groups: `
  - {name: s, kind: secret, selector: {services: [other]}, data: {PASSWORDFile: ./pw}}`,
		files: map[string]string{"pw": "p${a}ss\n"},
		want:  map[string][]string{"web": {"OWN=web (workload)"}, "worker": nil, "other": {"PASSWORD=p$${a}ss (group s, secret)"}},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := resolveEnv(t, twoWorkloads+c.groups, c.files)
			if err != nil {
				t.Fatal(err)
			}
			for w, want := range c.want {
				if strings.Join(got[w], "\n") != strings.Join(want, "\n") {
					t.Errorf("%s:\ngot  %q\nwant %q", w, got[w], want)
				}
			}
		})
	}
}

func TestGroupTies(t *testing.T) {
	cases := []struct {
		name, groups string
		files        map[string]string
		want         []string // one entry per error
	}{{
		name: "two groups of one priority set one key for a workload",
		groups: `
  - {name: a, kind: secret, priority: 3, selector: {projects: [demo]}, data: {K: a}}
  - {name: b, kind: config, priority: 3, selector: {tags: [batch]}, data: {K: b}}`,
		want: []string{`groups.yaml:9: groups[1].data.K: K is set at priority 3 by both group "a" (line 8) and group "b" for workload demo/worker`},
	}, {
		name: "a tie through an env file names the file's key",
		groups: `
  - {name: a, kind: config, selector: {services: [web]}, fromEnvFile: ./a.env}
  - {name: b, kind: config, selector: {tags: [api]}, data: {K: b}}`,
		files: map[string]string{"a.env": "K=a\n"},
		want:  []string{`groups.yaml:9: groups[1].data.K: K is set at priority 0 by both group "a" (line 8) and group "b" for workload demo/web`},
	}, {
		name: "the workload's own env does not hide a tie",
		groups: `
  - {name: a, kind: config, selector: {services: [web]}, data: {OWN: a}}
  - {name: b, kind: config, selector: {services: [web]}, data: {OWN: b}}`,
		want: []string{`groups[1].data.OWN: OWN is set at priority 0 by both group "a" (line 8) and group "b" for workload demo/web`},
	}, {
		name: "one error per pair of groups and key, listing the workloads",
		groups: `
  - {name: a, kind: config, selector: {projects: [demo]}, data: {K: a}}
  - {name: b, kind: config, selector: {projects: [demo]}, data: {K: b}}`,
		want: []string{`K is set at priority 0 by both group "a" (line 8) and group "b" for workloads demo/web, demo/worker`},
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := resolveEnv(t, twoWorkloads+c.groups, c.files)
			if err == nil {
				t.Fatal("Parse accepted a tie")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(c.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(c.want), err)
			}
			for i, w := range c.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d:\n%s\ndoes not contain\n%s", i, lines[i], w)
				}
			}
		})
	}
}

// A config group prints its values; a secret group never does, nor does
// any error about it.
func TestGroupSecretsArePrintedMasked(t *testing.T) {
	inTestDir(t)
	cfg, err := Parse([]byte(twoWorkloads+`
  - {name: s, kind: secret, selector: {projects: [demo]}, data: {URL: "${DATABASE_URL}", PWFile: ./db.pass}, fromEnvFile: ./db.env}
  - {name: c, kind: config, selector: {projects: [demo]}, data: {MODE: fast}}
`), "g.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "Redacted", string(out))
	if !strings.Contains(string(out), "MODE: fast") || !strings.Contains(string(out), "PW: <secret>") {
		t.Errorf("Redacted:\n%s", out)
	}
	env := cfg.Env(cfg.Workloads[0])
	var all strings.Builder
	for _, e := range env {
		all.WriteString(e.Name + "=" + e.Value.String() + "\n")
	}
	assertNoSecrets(t, "printed EnvVar values", all.String())
	if got := env[0].Value.Value(); env[0].Name != "DB_PASSWORD" || got != "db-env-file-secret-4b5c" {
		t.Errorf("first variable %s=%q, want DB_PASSWORD from db.env", env[0].Name, got)
	}
}
