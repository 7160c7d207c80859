// Package reload re-reads the config file of a running opshub and applies
// what can change live (the log sinks), naming every other changed section
// as needing a restart. It must not build any part itself: the binary hands
// it the function that loads a config and the one that maps sinks onto the
// router's settings.
package reload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/plugins"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/sinks"
)

// reloadValidationWait bounds how long a reload waits for the validation
// lines of the sinks it added or changed, to report their results.
const reloadValidationWait = 12 * time.Second

// Options are what a Reloader needs besides the running config.
type Options struct {
	// Path is the config file, re-read on each reload.
	Path   string
	Logger *slog.Logger
	// Sinks, when set, takes the log sinks of a new config live. Without
	// it, changed log sinks are reported as needing a restart.
	Sinks *sinks.Router
	// Load reads and checks the file with the same checks as at start and
	// in `opshub check-config` (app.LoadConfig); required.
	Load func(path string) (*config.Config, error)
	// SinkConfigs maps a config's log sinks onto the router's settings as
	// at start (app.SinkConfigs); required with Sinks.
	SinkConfigs func(*config.Config) []sinks.SinkConfig
	// Registerer, when set, receives the reload metrics.
	Registerer prometheus.Registerer
}

// Reloader re-reads the config file of a running opshub and applies what
// can change live: the log sinks. Every other section that changed is
// named in the result as needing a restart; the process goes on with its
// old values. A file with any error is refused as a whole, and nothing
// changes. `opshub run`, `opshub collector` and `opshub controller` share
// it: each builds one over its own parts, hands it to the API server
// (POST /api/v1/config/reload) and lets Watch serve SIGHUP.
type Reloader struct {
	path    string
	log     *slog.Logger
	sinks   *sinks.Router
	load    func(string) (*config.Config, error)
	configs func(*config.Config) []sinks.SinkConfig
	started *config.Config // what the parts that need a restart run with
	rels    ConfigReleaser
	groups  GroupApplier
	metrics metrics

	mu sync.Mutex // one reload at a time
}

// New returns a Reloader for a process started with running.
func New(running *config.Config, opts Options) *Reloader {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{
		path: opts.Path, log: opts.Logger.With("component", "reload"),
		sinks: opts.Sinks, load: opts.Load, configs: opts.SinkConfigs, started: running,
		metrics: newMetrics(),
	}
	if opts.Registerer != nil {
		if err := r.metrics.register(opts.Registerer); err != nil {
			r.log.Warn("cannot register the reload metrics", "err", err)
		}
	}
	return r
}

// ConfigReleaser rolls out the run specs of a reloaded config;
// *release.Manager satisfies it.
type ConfigReleaser interface {
	CheckConfig(ctx context.Context, ref model.Ref, spec model.RunSpec) error
	ConfigChanged(ctx context.Context, ref model.Ref, spec model.RunSpec) (*model.Release, error)
}

// SetReleases makes a service whose command, env or working directory
// changed roll out as a release triggered by config; without it such a
// change needs a restart. Call it before the first reload.
func (r *Reloader) SetReleases(rels ConfigReleaser) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rels = rels
}

// GroupApplier applies the groups of a reloaded config where a workload's
// groups are not part of its run spec (on Kubernetes, objects and envFrom):
// it returns the releases it started ("project/service revision N") and
// what it could not apply.
type GroupApplier interface {
	ApplyGroups(ctx context.Context, cfg *config.Config) (releases []string, errs []error)
}

// SetGroups makes a reload apply a change of groups through g instead of
// naming groups as needing a restart (a controller: its leader's applier,
// or a follower's that applies nothing); nil undoes it.
func (r *Reloader) SetGroups(g GroupApplier) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = g
}

// Error is a reload that was refused; Problems lists why, each with
// its line where it has one.
type Error struct {
	File     string
	Problems []model.ConfigProblem
}

func (e *Error) Error() string {
	noun := "errors"
	if len(e.Problems) == 1 {
		noun = "error"
	}
	return fmt.Sprintf("%s: %d %s; the running config is kept", e.File, len(e.Problems), noun)
}

// Reload re-reads the config file and applies it. It returns what changed;
// when the file was refused, the error is an *Error and the result
// lists the problems too.
func (r *Reloader) Reload(ctx context.Context) (model.ConfigReload, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := model.ConfigReload{File: r.path, Time: time.Now().UTC()}
	next, err := r.load(r.path)
	if err != nil {
		return r.refuse(res, configProblems(err))
	}
	var specs map[model.Ref]model.RunSpec
	compared := next
	if r.groups != nil {
		c := *next
		c.Groups = r.started.Groups // applied live below
		compared = &c
	}
	if r.rels != nil {
		res.RestartRequired = restartRequired(r.started, withRunSpecsOf(compared, r.started))
		res.RestartRequired = append(res.RestartRequired, jobEnvChanges(r.started, next)...)
		specs = serviceRunSpecs(r.started, next)
		var problems []model.ConfigProblem
		for ref, spec := range specs {
			if err := r.rels.CheckConfig(ctx, ref, spec); err != nil {
				problems = append(problems, model.ConfigProblem{Path: "workloads", Message: fmt.Sprintf("%s: %v", ref, err)})
			}
		}
		if len(problems) > 0 {
			return r.refuse(res, problems)
		}
	} else {
		res.RestartRequired = restartRequired(r.started, compared)
	}
	if r.sinks == nil {
		if !sameValue(logSinks(r.started), logSinks(next)) {
			res.RestartRequired = append(res.RestartRequired, "sinks")
		}
	} else {
		ch, err := r.sinks.Apply(ctx, r.configs(next))
		if err != nil {
			return r.refuse(res, sinkProblems(next, err))
		}
		res.Sinks = &model.SinkChanges{Added: orEmpty(ch.Added), Removed: orEmpty(ch.Removed), Changed: orEmpty(ch.Changed), Unchanged: orEmpty(ch.Unchanged)}
		if started := append(slices.Clone(ch.Added), ch.Changed...); len(started) > 0 {
			wctx, cancel := context.WithTimeout(ctx, reloadValidationWait)
			res.Sinks.Validation = r.sinks.Validations(wctx, started)
			cancel()
		}
	}
	for ref, spec := range specs {
		rel, err := r.rels.ConfigChanged(ctx, ref, spec)
		if err != nil {
			res.Errors = append(res.Errors, model.ConfigProblem{Path: "workloads", Message: fmt.Sprintf("%s: %v", ref, err)})
			continue
		}
		if rel != nil {
			res.Releases = append(res.Releases, fmt.Sprintf("%s revision %d", ref, rel.Revision))
		}
	}
	if r.groups != nil {
		started, errs := r.groups.ApplyGroups(ctx, next)
		res.Releases = append(res.Releases, started...)
		for _, err := range errs {
			res.Errors = append(res.Errors, model.ConfigProblem{Path: "groups", Message: err.Error()})
		}
	}
	slices.Sort(res.Releases)
	res.Applied = true
	r.metrics.result(true)
	args := []any{"file", r.path}
	if res.Sinks != nil {
		args = append(args, "sinks_added", res.Sinks.Added, "sinks_removed", res.Sinks.Removed, "sinks_changed", res.Sinks.Changed)
	}
	if len(res.RestartRequired) > 0 {
		args = append(args, "restart_required", res.RestartRequired)
	}
	if len(res.Releases) > 0 {
		args = append(args, "releases", res.Releases)
	}
	r.log.Info("config reloaded", args...)
	return res, nil
}

func (r *Reloader) refuse(res model.ConfigReload, problems []model.ConfigProblem) (model.ConfigReload, error) {
	res.Errors = problems
	r.metrics.result(false)
	err := &Error{File: r.path, Problems: problems}
	r.log.Error("config reload refused", "error", err.Error())
	for _, p := range problems {
		r.log.Error("config error", "file", p.File, "line", p.Line, "path", p.Path, "message", p.Message)
	}
	return res, err
}

// Watch reloads each time a value arrives on reloads (the command turns
// SIGHUP into them) until ctx ends. A nil channel only waits for ctx.
func (r *Reloader) Watch(ctx context.Context, reloads <-chan struct{}) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reloads:
			r.log.Info("reloading the config file", "file", r.path)
			_, _ = r.Reload(ctx) // the outcome is logged
		}
	}
}

// configProblems turns Load's error into problems, one per config error.
func configProblems(err error) []model.ConfigProblem {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return []model.ConfigProblem{{Message: err.Error()}}
	}
	out := make([]model.ConfigProblem, 0, len(errs))
	for _, e := range errs {
		out = append(out, model.ConfigProblem{File: e.File, Line: e.Line, Path: e.Path, Message: e.Msg})
	}
	return out
}

// sinkProblems turns the errors of building sinks into problems at the
// line of the sink concerned.
func sinkProblems(cfg *config.Config, err error) []model.ConfigProblem {
	var out []model.ConfigProblem
	for _, e := range config.Flatten(err) {
		var se *sinks.SinkError
		if !errors.As(e, &se) {
			out = append(out, model.ConfigProblem{Message: e.Error()})
			continue
		}
		idx := slices.IndexFunc(cfg.Sinks, func(s config.Sink) bool { return s.Name == se.Name })
		if idx < 0 {
			out = append(out, model.ConfigProblem{Message: se.Error()})
			continue
		}
		ce := cfg.Errorf(fmt.Sprintf("sinks[%d]", idx), "sink %q: %v", se.Name, se.Err)
		out = append(out, model.ConfigProblem{File: ce.File, Line: ce.Line, Path: ce.Path, Message: ce.Msg})
	}
	return out
}

// orEmpty keeps an empty list a list in JSON.
func orEmpty(names []string) []string {
	if names == nil {
		return []string{}
	}
	return names
}

// logSinks are the sinks of log records, the ones the Router runs.
func logSinks(cfg *config.Config) []config.Sink {
	var out []config.Sink
	for _, s := range cfg.Sinks {
		if !plugins.IsSampleSink(s.Type) {
			out = append(out, s)
		}
	}
	return out
}
