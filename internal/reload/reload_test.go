package reload_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/reload"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := app.ParseConfig([]byte(text), "opshub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// fixed loads whatever config the test last set.
type fixed struct {
	mu    sync.Mutex
	text  string
	loads int
}

func (f *fixed) set(text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.text = text
}

func (f *fixed) load(string) (*config.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loads++
	return app.ParseConfig([]byte(f.text), "opshub.yaml")
}

func (f *fixed) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loads
}

// startRouter runs the log sinks of cfg, as at start, until the test ends.
func startRouter(t *testing.T, dir string, cfg *config.Config) *sinks.Router {
	t.Helper()
	for kind, f := range app.SinkTypes() {
		if _, err := sinks.Lookup(kind); err != nil {
			sinks.Register(kind, f)
		}
	}
	router, err := sinks.NewRouter(app.SinkConfigs(cfg), sinks.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { done <- router.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return router
}

// TestReloadNamesWhatNeedsARestart: sections other than the log sinks are
// compared by value (not by where they stand in the file) and named.
func TestReloadNamesWhatNeedsARestart(t *testing.T) {
	started := parse(t, "server: {listen: 127.0.0.1:7420}\nalerts: {crashLoop: {restarts: 3}}\nsinks:\n  - {name: out, type: stdout}\n  - {name: prom, type: prometheus-remote-write, url: http://127.0.0.1:9090/api/v1/write}\n")
	tests := []struct {
		name string
		next string
		want []string
	}{
		{"same values, moved and restyled", "\n# a comment\nalerts:\n  crashLoop: {restarts: 3}\nserver:\n  listen: \"127.0.0.1:7420\"\nsinks:\n  - {name: out, type: stdout}\n  - name: prom\n    type: prometheus-remote-write\n    url: http://127.0.0.1:9090/api/v1/write\n", nil},
		{"listen, alerts, a remote-write sink and the log sinks", "server: {listen: 127.0.0.1:7421}\nalerts: {crashLoop: {restarts: 4}}\nsinks:\n  - {name: prom, type: prometheus-remote-write, url: http://127.0.0.1:9091/api/v1/write}\n",
			[]string{"server.listen", "alerts", "sinks[prom] (prometheus-remote-write)", "sinks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := parse(t, tt.next)
			r := reload.New(started, reload.Options{Path: "opshub.yaml", Load: func(string) (*config.Config, error) { return next, nil }})
			res, err := r.Reload(t.Context())
			if err != nil || !res.Applied {
				t.Fatalf("Reload = %+v, %v", res, err)
			}
			if !slices.Equal(res.RestartRequired, tt.want) {
				t.Errorf("restartRequired = %q, want %q", res.RestartRequired, tt.want)
			}
		})
	}
}

// TestReloadRefusesASinkWithBadSettings: a destination whose own Validate
// refuses its settings (an unknown Datadog site) fails the reload with the
// key's line, and the running sinks stay.
func TestReloadRefusesASinkWithBadSettings(t *testing.T) {
	dir := t.TempDir()
	router := startRouter(t, dir, parse(t, "sinks:\n  - {name: out, type: stdout}\n"))
	text := "dataDir: " + dir + "\nsinks:\n  - {name: out, type: stdout}\n  - name: dd\n    type: datadog\n    apiKey: k\n    site: mars\n"
	r := reload.New(&config.Config{DataDir: dir}, reload.Options{Path: "opshub.yaml", Sinks: router, SinkConfigs: app.SinkConfigs,
		Load: func(string) (*config.Config, error) { return app.ParseConfig([]byte(text), "opshub.yaml") }})
	res, err := r.Reload(t.Context())
	var re *reload.Error
	if !errors.As(err, &re) || res.Applied || len(res.Errors) != 1 || res.Errors[0].Line != 7 || !strings.Contains(res.Errors[0].Message, "mars") {
		t.Fatalf("Reload = %+v, %v; want one error at line 7 naming the site", res, err)
	}
	if got := router.Sinks(); len(got) != 1 || got[0].Name != "out" {
		t.Fatalf("sinks after a refused reload: %+v", got)
	}
}

// TestReloadAppliesTheLogSinksAndCountsTheResults: an added file sink
// runs and reports its validation line, the kept one is unchanged; a file
// with mistakes is refused with every error and its line, the sinks stay,
// and the reload metrics say both.
func TestReloadAppliesTheLogSinksAndCountsTheResults(t *testing.T) {
	dir := t.TempDir()
	started := parse(t, "sinks:\n  - {name: out, type: stdout}\n")
	router := startRouter(t, dir, started)
	archive := filepath.Join(dir, "archive.ndjson")
	file := &fixed{}
	reg := prometheus.NewPedanticRegistry()
	r := reload.New(started, reload.Options{
		Path: "opshub.yaml", Sinks: router, SinkConfigs: app.SinkConfigs, Load: file.load, Registerer: reg,
	})

	file.set("sinks:\n  - {name: out, type: stdout}\n  - {name: archive, type: file, path: " + archive + "}\n")
	res, err := r.Reload(t.Context())
	if err != nil || !res.Applied || res.Sinks == nil {
		t.Fatalf("Reload = %+v, %v", res, err)
	}
	if !slices.Equal(res.Sinks.Added, []string{"archive"}) || !slices.Equal(res.Sinks.Unchanged, []string{"out"}) || len(res.Sinks.Removed) != 0 {
		t.Errorf("sink changes %+v, want archive added and out unchanged", res.Sinks)
	}
	if v, ok := res.Sinks.Validation["archive"]; !ok || !v.OK {
		t.Errorf("validation of the added sink: %+v", res.Sinks.Validation)
	}
	if data, err := os.ReadFile(archive); err != nil || !strings.Contains(string(data), sinks.ValidationLabel) {
		t.Errorf("the added sink did not write its validation line: %q, %v", data, err)
	}

	file.set("sinks:\n  - {name: out, type: stdout}\n  - {name: archive, type: fiel}\n  - {name: out, type: stdout}\n")
	res, err = r.Reload(t.Context())
	var re *reload.Error
	if !errors.As(err, &re) || res.Applied || len(res.Errors) < 2 {
		t.Fatalf("a file with two mistakes: %+v, %v; want both refused", res, err)
	}
	for _, p := range res.Errors {
		if p.Line == 0 {
			t.Errorf("problem without a line: %+v", p)
		}
	}
	if !strings.Contains(err.Error(), "the running config is kept") {
		t.Errorf("error %q does not say the running config is kept", err)
	}
	if got := router.Sinks(); len(got) != 2 {
		t.Errorf("sinks after the refused reload: %+v, want out and archive still", got)
	}
	if n, err := testutil.GatherAndCount(reg, "opshub_config_reloads_total"); err != nil || n != 2 {
		t.Fatalf("reload counters: %d series, %v", n, err)
	}
	want := `
# HELP opshub_config_last_reload_successful 1 when the last config reload applied (or none was tried), 0 when it was refused.
# TYPE opshub_config_last_reload_successful gauge
opshub_config_last_reload_successful 0
# HELP opshub_config_reloads_total Config reloads (SIGHUP or POST /api/v1/config/reload) by result: success (applied) or failure (refused, the running config kept).
# TYPE opshub_config_reloads_total counter
opshub_config_reloads_total{result="failure"} 1
opshub_config_reloads_total{result="success"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "opshub_config_reloads_total", "opshub_config_last_reload_successful"); err != nil {
		t.Error(err)
	}
}

// TestReloadWithoutSinksNamesThem: a process that runs no log sinks (the
// controller) reports changed log sinks as needing a restart.
func TestReloadWithoutSinksNamesThem(t *testing.T) {
	next := parse(t, "sinks:\n  - {name: out, type: stdout}\n  - {name: err, type: stdout}\n")
	r := reload.New(parse(t, "sinks:\n  - {name: out, type: stdout}\n"), reload.Options{Path: "opshub.yaml", Load: func(string) (*config.Config, error) { return next, nil }})
	res, err := r.Reload(t.Context())
	if err != nil || !slices.Equal(res.RestartRequired, []string{"sinks"}) || res.Sinks != nil {
		t.Errorf("Reload = %+v, %v; want sinks named as needing a restart", res, err)
	}
}

// releases records what a reload hands the release engine.
type releases struct {
	refuse  string // a service whose spec CheckConfig refuses
	changed map[model.Ref]model.RunSpec
}

func (r *releases) CheckConfig(_ context.Context, ref model.Ref, _ model.RunSpec) error {
	if ref.Service == r.refuse {
		return errors.New("the deploy lock is held")
	}
	return nil
}

func (r *releases) ConfigChanged(_ context.Context, ref model.Ref, spec model.RunSpec) (*model.Release, error) {
	if r.changed == nil {
		r.changed = map[model.Ref]model.RunSpec{}
	}
	r.changed[ref] = spec
	if slices.Equal(spec.Command, []string{"web", "--v1"}) {
		return nil, nil // the spec the config gave last: nothing to roll out
	}
	return &model.Release{Revision: 2}, nil
}

// TestReloadRollsOutChangedWorkloadsAsReleases: with the release engine,
// a service whose command or env changed is a release triggered by config,
// not a restart; a job is not a service; a spec the engine refuses fails
// the whole reload.
func TestReloadRollsOutChangedWorkloadsAsReleases(t *testing.T) {
	started := parse(t, "workloads:\n  - {name: web, project: demo, command: [web, --v1], env: {A: \"1\"}}\n  - {name: api, project: demo, command: [api]}\n  - {name: once, project: demo, command: [job], restartPolicy: Never}\n")
	next := "workloads:\n  - {name: web, project: demo, command: [web, --v2], env: {A: \"2\"}}\n  - {name: api, project: demo, command: [api]}\n  - {name: once, project: demo, command: [job, --again], restartPolicy: Never}\n"
	rels := &releases{}
	r := reload.New(started, reload.Options{Path: "opshub.yaml", Load: func(string) (*config.Config, error) { return app.ParseConfig([]byte(next), "opshub.yaml") }})
	r.SetReleases(rels)
	res, err := r.Reload(t.Context())
	if err != nil || !res.Applied {
		t.Fatalf("Reload = %+v, %v", res, err)
	}
	web := model.Ref{Project: "demo", Service: "web"}
	if spec := rels.changed[web]; !slices.Equal(spec.Command, []string{"web", "--v2"}) || spec.Env["A"] != "2" {
		t.Errorf("web's spec for the release engine: %+v", spec)
	}
	if _, ok := rels.changed[model.Ref{Project: "demo", Service: "once"}]; ok {
		t.Error("a job was handed to the release engine")
	}
	if !slices.Equal(res.Releases, []string{"demo/api revision 2", "demo/web revision 2"}) {
		t.Errorf("releases %q", res.Releases)
	}
	if !slices.Equal(res.RestartRequired, []string{"workloads"}) {
		t.Errorf("restartRequired %q, want only the job's change (workloads)", res.RestartRequired)
	}

	rels.refuse = "web"
	res, err = r.Reload(t.Context())
	if err == nil || res.Applied || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, "demo/web: the deploy lock is held") {
		t.Errorf("a refused spec: %+v, %v", res, err)
	}
}

// TestWatchReloadsOnEachRequest: Watch reloads once per value on its
// channel (SIGHUP) until its context ends.
func TestWatchReloadsOnEachRequest(t *testing.T) {
	file := &fixed{text: "sinks: []\n"}
	r := reload.New(parse(t, "sinks: []\n"), reload.Options{Path: "opshub.yaml", Load: file.load})
	reloads := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx, reloads) }()
	for i := 1; i <= 2; i++ {
		reloads <- struct{}{}
		sinktest.WaitFor(t, 5*time.Second, fmt.Sprintf("reload %d", i), func() bool { return file.count() == i })
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch: %v", err)
	}
}

// TestConfigRunSpecs: the run specs of a config are those of its services
// (jobs left out), with the env its groups and own env resolve to and
// where each variable came from.
func TestConfigRunSpecs(t *testing.T) {
	cfg := parse(t, `groups:
  - {name: shared, kind: config, priority: 10, selector: {projects: [demo]}, data: {REGION: eu, A: from-group}}
workloads:
  - {name: web, project: demo, command: [web], workingDir: /srv, env: {A: own}}
  - {name: once, project: demo, command: [job], restartPolicy: Never}
`)
	specs := reload.ConfigRunSpecs(cfg)
	if len(specs) != 1 {
		t.Fatalf("specs %+v, want web's only", specs)
	}
	web := specs[model.Ref{Project: "demo", Service: "web"}]
	if web.WorkingDir != "/srv" || !slices.Equal(web.Command, []string{"web"}) || web.Env["REGION"] != "eu" || web.Env["A"] != "own" {
		t.Errorf("web's spec %+v", web)
	}
	if web.Sources["REGION"].From == web.Sources["A"].From {
		t.Errorf("sources %+v: the group's variable and the workload's own must name where they came from", web.Sources)
	}
}
