package continuous

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/outbound"
	"github.com/opshub/opshub/release"
	"github.com/opshub/opshub/store"
)

// Target is one watch: a service's container that follows the image
// (Project, Service, Container), or a flow whose runs a new digest starts
// (Flow).
type Target struct {
	Project, Service string
	// Container whose image changes; "" is the pod's default container.
	Container string
	Flow      string
	Source
}

func (t Target) key() string {
	if t.Flow != "" {
		return "flow/" + t.Flow + "/" + t.Image + ":" + t.Tag + t.Semver
	}
	return "deploy/" + t.Project + "/" + t.Service + "/" + t.Container
}

func (t Target) ref() model.Ref { return model.Ref{Project: t.Project, Service: t.Service} }

// follows names what the target follows: image:tag or image (semver range).
func (t Target) follows() string {
	if t.Semver != "" {
		return t.Image + " (semver " + t.Semver + ")"
	}
	return t.Image + ":" + t.Tag
}

// Releases is the release engine; *release.Manager satisfies it.
type Releases interface {
	Deploy(ctx context.Context, ref model.Ref, ch release.Change, trigger model.ReleaseTrigger) (model.Release, error)
	Releases(ctx context.Context, ref model.Ref) ([]model.Release, error)
}

// Flows starts a flow's run for a new image, with the arguments IMAGE,
// DIGEST and TAG, and returns the run's id; by names the image and tag
// followed.
type Flows interface {
	StartImage(flow, by string, args map[string]string) (string, error)
}

// Options are the watcher's dependencies.
type Options struct {
	// DB keeps each target's State. Required.
	DB *store.DB
	// Releases deploys; required for targets with a service.
	Releases Releases
	// Flows starts runs; required for targets with a flow.
	Flows Flows
	// PullSecret reads the .dockerconfigjson of an image pull Secret;
	// nil refuses auth.pullSecret.
	PullSecret func(ctx context.Context, namespace, name string) ([]byte, error)
	Logger     *slog.Logger
	// Follow is how often a release in progress is read, to record how
	// it ended; default 1s.
	Follow time.Duration
	// FirstRetry is the wait after a poll that failed for a reason worth
	// retrying (a network failure, 429, 5xx); it doubles up to the poll
	// interval, and is never shorter than the registry's Retry-After.
	// Default 1s.
	FirstRetry time.Duration
	Now        func() time.Time
}

// State is what a target saw and did, as the API shows it.
type State = model.ContinuousState

// Watcher polls the registries of its targets and acts on new digests.
//
// Lifecycle: New reads the state and has no other side effects; Run polls
// until ctx ends and returns once every loop has; Pause, Resume and Status
// may be called at any time.
type Watcher struct {
	opts    Options
	log     *slog.Logger
	reg     *registry
	bucket  *store.Bucket[State]
	targets []*target

	mu     sync.Mutex
	states map[string]State // what Status shows, written by save
}

// target is a Target with its loop's lock and wake-up.
type target struct {
	Target
	// mu orders the decisions of one target: a poll's deploy and a pause
	// by hand never interleave.
	mu   sync.Mutex
	wake chan struct{}
	// lastErr is the error last logged, so a failure that repeats is
	// logged once.
	lastErr string
}

// New checks the targets and reads what they saw before.
func New(targets []Target, opts Options) (*Watcher, error) {
	if opts.DB == nil {
		return nil, errors.New("continuous: a store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Follow <= 0 {
		opts.Follow = time.Second
	}
	if opts.FirstRetry <= 0 {
		opts.FirstRetry = time.Second
	}
	reg, err := newRegistry(opts.PullSecret, opts.Now)
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		opts: opts, log: opts.Logger.With("component", "continuous"), reg: reg,
		bucket: store.NewBucket[State](opts.DB, "continuous"), states: map[string]State{},
	}
	var errs []error
	seen := map[string]bool{}
	for _, t := range targets {
		switch {
		case t.Image == "" || (t.Tag == "") == (t.Semver == ""):
			errs = append(errs, fmt.Errorf("continuous: %s: needs an image and one of tag or semver", t.key()))
			continue
		case t.Flow == "" && t.Service == "":
			errs = append(errs, errors.New("continuous: a target needs a service or a flow"))
			continue
		case t.Flow == "" && opts.Releases == nil, t.Flow != "" && opts.Flows == nil:
			errs = append(errs, fmt.Errorf("continuous: %s: nothing to deploy or start with", t.key()))
			continue
		case seen[t.key()]:
			errs = append(errs, fmt.Errorf("continuous: %s: given twice", t.key()))
			continue
		}
		seen[t.key()] = true
		if t.Interval <= 0 {
			t.Interval = time.Minute
		}
		w.targets = append(w.targets, &target{Target: t, wake: make(chan struct{}, 1)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	all, err := w.bucket.List()
	if err != nil {
		return nil, fmt.Errorf("continuous: read state: %w", err)
	}
	old := map[string]State{}
	for _, e := range all {
		old[e.Key] = e.Value
	}
	for _, t := range w.targets {
		st, ok := old[t.key()]
		fresh := State{Project: t.Project, Service: t.Service, Container: t.Container, Flow: t.Flow, Image: t.Image, Tag: t.Tag, Semver: t.Semver}
		switch {
		case !ok:
			st = fresh
		case st.Image != t.Image || st.Tag != t.Tag || st.Semver != t.Semver:
			// Another image or tag: what was seen of the old one
			// means nothing now; a pause by hand still holds.
			fresh.Paused, fresh.PausedBy, fresh.PausedAt, fresh.PausedReason = st.Paused, st.PausedBy, st.PausedAt, st.PausedReason
			st = fresh
		}
		w.states[t.key()] = st
	}
	return w, nil
}

// Run polls every target until ctx ends.
func (w *Watcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range w.targets {
		wg.Go(func() { w.loop(ctx, t) })
	}
	wg.Wait()
	return nil
}

func (w *Watcher) loop(ctx context.Context, t *target) {
	failures := 0
	var next time.Time // the next poll; zero: now
	for {
		if !time.Now().Before(next) {
			err := w.poll(ctx, t)
			if ctx.Err() != nil {
				return
			}
			wait := t.Interval
			if retryAfter, retryable := outbound.RetryAfterOf(err); retryable {
				failures++
				wait = outbound.Backoff{Initial: w.opts.FirstRetry, Max: t.Interval}.Wait(failures, retryAfter, 0.8+0.4*rand.Float64())
			} else {
				failures = 0
			}
			next = time.Now().Add(wait)
		} else {
			w.follow(ctx, t)
		}
		d := time.Until(next)
		if w.following(t) {
			d = min(d, w.opts.Follow)
		}
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-t.wake:
			timer.Stop()
			next = time.Time{}
		}
	}
}

func (w *Watcher) state(t *target) State {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.states[t.key()]
}

func (w *Watcher) save(t *target, st State) {
	w.mu.Lock()
	w.states[t.key()] = st
	w.mu.Unlock()
	if err := w.bucket.Put(t.key(), st); err != nil {
		w.log.Error("record continuous deployment state", "target", t.key(), "error", err)
	}
}

// following tells whether a release made by the target is in progress.
func (w *Watcher) following(t *target) bool {
	return w.state(t).Outcome == model.ReleaseProgressing
}

// poll reads the registry and acts on what it says.
func (w *Watcher) poll(ctx context.Context, t *target) error {
	res, err := w.reg.resolve(ctx, t.Source, t.Project)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := w.state(t)
	st.Checked = w.opts.Now().UTC()
	if err != nil {
		w.failed(t, &st, "poll", err)
		w.save(t, st)
		return err
	}
	prev := st.Digest
	st.Digest, st.ResolvedTag = res.Digest, res.Tag
	if t.Flow != "" {
		w.startFlow(t, &st, prev)
	} else {
		w.deploy(ctx, t, &st)
	}
	w.save(t, st)
	return nil
}

// failed records why a poll or deploy failed, logging a failure once until
// it changes.
func (w *Watcher) failed(t *target, st *State, what string, err error) {
	st.Error = err.Error()
	if st.Error != t.lastErr {
		w.log.Warn("continuous deployment: "+what+" failed", "target", t.key(), "follows", t.follows(), "error", err)
	}
	t.lastErr = st.Error
}

func (w *Watcher) ok(t *target, st *State) {
	if t.lastErr != "" {
		w.log.Info("continuous deployment: working again", "target", t.key())
	}
	st.Error, t.lastErr = "", ""
}

// startFlow starts a run of the flow for a new digest. The first digest a
// trigger reads is its starting point, as a git trigger's first head is.
func (w *Watcher) startFlow(t *target, st *State, prev string) {
	w.ok(t, st)
	switch {
	case prev == "":
		w.log.Info("image trigger: following", "flow", t.Flow, "follows", t.follows(), "digest", st.Digest)
		return
	case prev == st.Digest:
		return
	}
	args := map[string]string{"IMAGE": t.Image + "@" + st.Digest, "DIGEST": st.Digest, "TAG": st.ResolvedTag}
	id, err := w.opts.Flows.StartImage(t.Flow, t.follows(), args)
	if err != nil {
		w.failed(t, st, "start flow", err)
		return
	}
	st.Run = id
	w.log.Info("image trigger: new digest", "flow", t.Flow, "follows", t.follows(), "digest", st.Digest, "run", id)
}

// deploy deploys image@digest when the container runs something else, the
// service is not paused and the digest has not failed.
func (w *Watcher) deploy(ctx context.Context, t *target, st *State) {
	// One read of the history both ends the release in progress and
	// says what runs: a release that failed and was rolled back between
	// two reads would otherwise look like a container running something
	// else, and its digest would be deployed again.
	hist, err := w.opts.Releases.Releases(ctx, t.ref())
	if err != nil {
		w.failed(t, st, "read releases", err)
		return
	}
	w.followIn(t, st, hist)
	if st.Paused || st.Digest == st.FailedDigest {
		w.ok(t, st)
		return
	}
	want := t.Image + "@" + st.Digest
	if len(hist) > 0 {
		spec := hist[0].Spec
		running := spec.Image
		if t.Container != "" {
			running = spec.Images[t.Container]
		}
		if running == want {
			w.ok(t, st)
			if st.Deployed != st.Digest {
				st.Deployed, st.Revision, st.Outcome = st.Digest, hist[0].Revision, hist[0].State
			}
			return
		}
	}
	rel, err := w.opts.Releases.Deploy(ctx, t.ref(), release.Change{
		Image: want, Container: t.Container,
		Reason: fmt.Sprintf("%s points at %s", t.Image+":"+st.ResolvedTag, st.Digest),
	}, model.ReleaseTrigger{Kind: model.TriggerContinuous, By: t.follows()})
	if err != nil {
		w.failed(t, st, "deploy", err)
		return
	}
	w.ok(t, st)
	st.Deployed, st.Revision, st.Outcome = st.Digest, rel.Revision, rel.State
	w.log.Info("continuous deployment: deploying", "project", t.Project, "service", t.Service, "container", t.Container, "image", want, "revision", rel.Revision)
}

// follow records how the release in progress ended.
func (w *Watcher) follow(ctx context.Context, t *target) {
	if !w.following(t) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := w.state(t)
	before := st
	w.followLocked(ctx, t, &st)
	if st != before {
		w.save(t, st)
	}
}

func (w *Watcher) followLocked(ctx context.Context, t *target, st *State) {
	if st.Outcome != model.ReleaseProgressing || st.Revision == 0 {
		return
	}
	hist, err := w.opts.Releases.Releases(ctx, t.ref())
	if err != nil {
		return
	}
	w.followIn(t, st, hist)
}

// followIn records how the release in progress ended, as hist (the
// service's history, newest first) says.
func (w *Watcher) followIn(t *target, st *State, hist []model.Release) {
	if st.Outcome != model.ReleaseProgressing || st.Revision == 0 {
		return
	}
	i := slices.IndexFunc(hist, func(r model.Release) bool { return r.Revision == st.Revision })
	if i < 0 {
		st.Outcome = "" // dropped from the history
		return
	}
	st.Outcome = hist[i].State
	switch st.Outcome {
	case model.ReleaseProgressing:
	case model.ReleaseSucceeded, model.ReleaseSuperseded:
		w.log.Info("continuous deployment: release ended", "project", t.Project, "service", t.Service, "revision", st.Revision, "state", st.Outcome)
	case model.ReleaseFailed, model.ReleaseRolledBack:
		st.FailedDigest = st.Deployed
		w.log.Warn("continuous deployment: release failed; this digest is not deployed again until the tag moves",
			"project", t.Project, "service", t.Service, "revision", st.Revision, "digest", st.Deployed, "reason", hist[i].Reason)
	}
}

// ErrNotWatched is the answer of Resume for a service without continuous
// deployment.
func notWatched(ref model.Ref) error {
	return &release.Error{Code: http.StatusNotFound, Field: "service",
		Msg: fmt.Sprintf("%s/%s has no continuous deployment (release.continuous)", ref.Project, ref.Service)}
}

// Pause stops continuous deployment of the service (every container of it
// that has one) because of a deploy by hand; a poll deploying now finishes
// first. undo puts the previous state back, for a deploy that was then
// refused.
func (w *Watcher) Pause(ref model.Ref, by, reason string) (undo func()) {
	type saved struct {
		t  *target
		st State
	}
	var before []saved
	now := w.opts.Now().UTC()
	for _, t := range w.of(ref) {
		t.mu.Lock()
		st := w.state(t)
		before = append(before, saved{t, st})
		if !st.Paused {
			st.Paused, st.PausedBy, st.PausedAt, st.PausedReason = true, by, &now, reason
			w.save(t, st)
			w.log.Info("continuous deployment paused", "project", ref.Project, "service", ref.Service, "container", t.Container, "by", by, "reason", reason)
		}
		t.mu.Unlock()
	}
	return func() {
		for _, s := range before {
			s.t.mu.Lock()
			st := w.state(s.t)
			st.Paused, st.PausedBy, st.PausedAt, st.PausedReason = s.st.Paused, s.st.PausedBy, s.st.PausedAt, s.st.PausedReason
			w.save(s.t, st)
			s.t.mu.Unlock()
		}
	}
}

// Resume turns continuous deployment of the service on again and polls at
// once; a service without it is a *release.Error (404).
func (w *Watcher) Resume(ref model.Ref) ([]State, error) {
	ts := w.of(ref)
	if len(ts) == 0 {
		return nil, notWatched(ref)
	}
	for _, t := range ts {
		t.mu.Lock()
		st := w.state(t)
		if st.Paused {
			st.Paused, st.PausedBy, st.PausedAt, st.PausedReason = false, "", nil, ""
			w.save(t, st)
			w.log.Info("continuous deployment resumed", "project", ref.Project, "service", ref.Service, "container", t.Container)
		}
		t.mu.Unlock()
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
	return w.Status(ref), nil
}

// Status is the state of each continuous deployment of the service; nil
// when it has none.
func (w *Watcher) Status(ref model.Ref) []State {
	var out []State
	for _, t := range w.of(ref) {
		out = append(out, w.state(t))
	}
	return out
}

// Flow is the state of each image trigger of a flow.
func (w *Watcher) Flow(name string) []State {
	var out []State
	for _, t := range w.targets {
		if t.Flow == name {
			out = append(out, w.state(t))
		}
	}
	return out
}

func (w *Watcher) of(ref model.Ref) []*target {
	var out []*target
	for _, t := range w.targets {
		if t.Flow == "" && t.Project == ref.Project && t.Service == ref.Service {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b *target) int { return strings.Compare(a.Container, b.Container) })
	return out
}
