package flow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/release"
)

func (e *Engine) runCommand(ctx context.Context, a *active, s Step, attempt int, out *lineBuffer) error {
	if e.opts.Commands == nil {
		return errors.New("run steps are not available on this opshub")
	}
	r := a.rec.Run
	code, err := e.opts.Commands.RunCommand(ctx, Command{
		Flow: r.Flow, Run: r.ID, Step: s.Name, Attempt: attempt,
		Command: s.Run.Command, Env: mergeEnv(s.Env, s.Run.Env), WorkingDir: s.Run.WorkingDir,
	}, out)
	switch {
	case err != nil:
		return err
	case code != 0:
		return fmt.Errorf("exited with code %d", code)
	}
	return nil
}

func (e *Engine) runJob(ctx context.Context, a *active, s Step, out *lineBuffer) error {
	if e.opts.Jobs == nil {
		return errors.New("job steps are not available on this opshub")
	}
	j := s.Job
	res, err := e.opts.Jobs.RunJob(ctx, j.Project, j.Name, mergeEnv(s.Env, j.Env), func(id string) {
		out.Printf("job %s/%s run %s started", j.Project, j.Name, id)
		e.update(a, s.Name, func(st *StepState) { st.JobRun = id })
	})
	if err != nil {
		return fmt.Errorf("job %s/%s: %w", j.Project, j.Name, err)
	}
	for _, l := range res.Lines {
		_, _ = io.WriteString(out, l+"\n")
	}
	if res.State != "succeeded" {
		msg := fmt.Sprintf("job %s/%s run %s %s", j.Project, j.Name, res.ID, res.State)
		if res.Message != "" {
			msg += ": " + res.Message
		}
		return errors.New(msg)
	}
	out.Printf("job %s/%s run %s succeeded after %d attempt(s)", j.Project, j.Name, res.ID, res.Attempts)
	return nil
}

// releaser returns the release engine or says it is missing.
func (e *Engine) releaser() (Releases, error) {
	if e.opts.Releases == nil {
		return nil, errors.New("releases are not available on this opshub")
	}
	return e.opts.Releases, nil
}

func (e *Engine) deploy(ctx context.Context, a *active, s Step, out *lineBuffer) error {
	rels, err := e.releaser()
	if err != nil {
		return err
	}
	d := s.Deploy
	ref := model.Ref{Project: d.Project, Service: d.Service}
	ch := release.Change{Image: d.Image, Container: d.Container, Command: d.Command, Version: d.Version,
		Reason: fmt.Sprintf("flow %s run %s step %s", a.rec.Run.Flow, a.rec.Run.ID, s.Name)}
	if env := mergeEnv(s.Env, d.Env); len(env) > 0 {
		ch.Env = env
	}
	return e.release(ctx, a, s, ref, ch, rels, out)
}

// promote copies the current spec of From onto To: its command, image,
// version and own environment (variables To has and From has not are
// removed). Variables from groups and secrets stay as each service's
// groups give them.
func (e *Engine) promote(ctx context.Context, a *active, s Step, out *lineBuffer) error {
	rels, err := e.releaser()
	if err != nil {
		return err
	}
	from := model.Ref{Project: s.Promote.From.Project, Service: s.Promote.From.Service}
	to := model.Ref{Project: s.Promote.To.Project, Service: s.Promote.To.Service}
	src, err := current(ctx, rels, from, true)
	if err != nil {
		return err
	}
	dst, err := current(ctx, rels, to, false)
	if err != nil {
		return err
	}
	out.Printf("promoting %s revision %d onto %s", from, src.Revision, to)
	ch := release.Change{Image: src.Spec.Image, Command: src.Spec.Command, Env: map[string]string{}, Version: src.Spec.Version,
		Reason: fmt.Sprintf("flow %s run %s step %s: promote %s revision %d", a.rec.Run.Flow, a.rec.Run.ID, s.Name, from, src.Revision)}
	for k, v := range src.Spec.Env {
		if own(src.Spec, k) {
			ch.Env[k] = v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(dst.Spec.Env)) {
		if _, ok := ch.Env[k]; !ok && own(dst.Spec, k) {
			ch.UnsetEnv = append(ch.UnsetEnv, k)
		}
	}
	if len(ch.Env) == 0 {
		ch.Env = nil
	}
	return e.release(ctx, a, s, to, ch, rels, out)
}

// own tells whether a variable of a spec belongs to the service's release
// itself: not a group's (each service gets its own groups) and not a
// secret (the history keeps only a hash of a secret's value).
func own(spec model.RunSpec, name string) bool {
	src := spec.Sources[name]
	return !src.Secret && !strings.HasPrefix(src.From, "group ")
}

// current returns a service's current release: the newest succeeded one
// when succeeded is set, else the newest.
func current(ctx context.Context, rels Releases, ref model.Ref, succeeded bool) (model.Release, error) {
	hist, err := rels.Releases(ctx, ref)
	if err != nil {
		return model.Release{}, fmt.Errorf("%s: %w", ref, err)
	}
	for _, r := range hist {
		if !succeeded || r.State == model.ReleaseSucceeded {
			return r, nil
		}
	}
	return model.Release{}, fmt.Errorf("%s has no succeeded release to promote", ref)
}

// release starts a release of ref with ch, records what the service ran
// before (for a rollback of the run) and waits for the release.
func (e *Engine) release(ctx context.Context, a *active, s Step, ref model.Ref, ch release.Change, rels Releases, out *lineBuffer) error {
	before, err := current(ctx, rels, ref, false)
	if err != nil {
		return err
	}
	trigger := model.ReleaseTrigger{Kind: model.TriggerFlow, By: a.rec.Run.Flow, FlowRun: a.rec.Run.ID}
	rel, err := rels.Deploy(ctx, ref, ch, trigger)
	var re *release.Error
	if errors.As(err, &re) && re.Code == http.StatusBadRequest && strings.HasPrefix(re.Msg, "nothing changes") {
		// Deploying what already runs is done: a retried or repeated
		// flow does not fail on it.
		out.Printf("%s already runs this spec (revision %d)", ref, before.Revision)
		e.update(a, s.Name, func(st *StepState) { st.Revision, st.Message = before.Revision, "already running" })
		return nil
	}
	if err != nil {
		return fmt.Errorf("deploy %s: %w", ref, err)
	}
	e.mu.Lock()
	r := &a.rec.Run
	if !slices.ContainsFunc(r.Releases, func(c Changed) bool { return c.Project == ref.Project && c.Service == ref.Service }) {
		prev := before.Revision
		if before.State != model.ReleaseSucceeded {
			if good, err := current(ctx, rels, ref, true); err == nil {
				prev = good.Revision
			}
		}
		r.Releases = append(r.Releases, Changed{Project: ref.Project, Service: ref.Service, Previous: prev})
	}
	r.Step(s.Name).Revision = rel.Revision
	e.save(a.rec)
	e.mu.Unlock()
	out.Printf("%s: rolling out revision %d", ref, rel.Revision)
	return e.follow(ctx, rels, ref, rel.Revision, out)
}

// follow waits until a release has ended; it succeeds only when the
// release did.
func (e *Engine) follow(ctx context.Context, rels Releases, ref model.Ref, revision int, out *lineBuffer) error {
	tick := time.NewTicker(e.opts.Poll)
	defer tick.Stop()
	last := model.ReleaseProgress{}
	for {
		hist, err := rels.Releases(ctx, ref)
		if err != nil && ctx.Err() == nil {
			out.Printf("read releases of %s: %v", ref, err)
		}
		for _, r := range hist {
			if r.Revision != revision {
				continue
			}
			if r.Progress != last {
				last = r.Progress
				out.Printf("%s revision %d: %d/%d updated, %d ready, %d old %s", ref, revision, last.Updated, last.Desired, last.Ready, last.Old, last.Waiting)
			}
			if r.Done() {
				if r.State == model.ReleaseSucceeded {
					out.Printf("%s revision %d succeeded", ref, revision)
					return nil
				}
				return fmt.Errorf("%s revision %d %s: %s", ref, revision, r.State, r.Reason)
			}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
	}
}

func (e *Engine) backup(ctx context.Context, a *active, s Step, out *lineBuffer) error {
	if e.opts.Volumes == nil || e.opts.BackupDir == "" {
		return errors.New("backup steps are not available on this opshub")
	}
	b := s.Backup
	dir := filepath.Join(e.opts.BackupDir, a.rec.Run.Flow, a.rec.Run.ID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(dir, s.Name+".tar.gz")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	start := time.Now()
	err = e.opts.Volumes.BackupVolume(ctx, b.Project, b.Service, b.Volume, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("back up volume %s of %s/%s: %w", b.Volume, b.Project, b.Service, err)
	}
	size := int64(0)
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
	}
	out.Printf("volume %s of %s/%s archived to %s (%d bytes) in %s", b.Volume, b.Project, b.Service, path, size, time.Since(start).Round(time.Millisecond))
	e.update(a, s.Name, func(st *StepState) { st.Backup = path })
	return nil
}

// snapshot takes a backup step as volume snapshots and records them with
// the run.
func (e *Engine) snapshot(ctx context.Context, a *active, s Step, attempt int, out *lineBuffer) error {
	b := s.Backup
	r := a.rec.Run
	start := time.Now()
	names, err := e.opts.Snapshots.SnapshotVolume(ctx, SnapshotRequest{
		Flow: r.Flow, Run: r.ID, Step: s.Name, Attempt: attempt,
		Project: b.Project, Service: b.Service, Volume: b.Volume, Class: b.VolumeSnapshotClass,
	}, out)
	if err != nil {
		return fmt.Errorf("snapshot volume %s of %s/%s: %w", b.Volume, b.Project, b.Service, err)
	}
	out.Printf("volume %s of %s/%s snapshotted as %s in %s", b.Volume, b.Project, b.Service, strings.Join(names, ", "), time.Since(start).Round(time.Millisecond))
	e.update(a, s.Name, func(st *StepState) { st.Snapshots = names })
	return nil
}

// call makes an http step's request; a 2xx answer succeeds.
func (e *Engine) call(ctx context.Context, s Step, out *lineBuffer) error {
	h := s.HTTP
	method := h.Method
	if method == "" {
		method = http.MethodGet
		if h.Body != "" {
			method = http.MethodPost
		}
	}
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.URL, body)
	if err != nil {
		return fmt.Errorf("http step: %w", err)
	}
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	if h.Body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	resp, err := e.opts.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, redactURL(h.URL), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	out.Printf("%s %s: %s", method, redactURL(h.URL), resp.Status)
	if len(snippet) > 0 {
		_, _ = out.Write(append(snippet, '\n'))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s answered %s", method, redactURL(h.URL), resp.Status)
	}
	return nil
}

// redactURL leaves a URL's query and user out of logs: chat webhooks carry
// their credentials there.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if scheme, rest, ok := strings.Cut(u, "://"); ok {
		if at := strings.Index(rest, "@"); at >= 0 && at < strings.Index(rest+"/", "/") {
			rest = rest[at+1:]
		}
		u = scheme + "://" + rest
	}
	return u
}

// approval waits until Approve is called for the step or ctx ends.
func (e *Engine) approval(ctx context.Context, a *active, s Step, out *lineBuffer) error {
	ch := make(chan string, 1)
	e.mu.Lock()
	a.approvals[s.Name] = ch
	st := a.rec.Run.Step(s.Name)
	st.State = StepWaiting
	st.Message = "waiting for approval"
	if s.Approval.Message != "" {
		st.Message += ": " + s.Approval.Message
	}
	e.save(a.rec)
	e.mu.Unlock()
	out.Printf("waiting for approval (opshub flow approve %s %s)", a.rec.Run.ID, s.Name)
	defer func() {
		e.mu.Lock()
		delete(a.approvals, s.Name)
		e.mu.Unlock()
	}()
	select {
	case by := <-ch:
		out.Printf("approved by %s", by)
		e.update(a, s.Name, func(st *StepState) { st.State, st.ApprovedBy, st.Message = StepRunning, by, "approved by "+by })
		return nil
	case <-ctx.Done():
		return fmt.Errorf("not approved: %w", context.Cause(ctx))
	}
}
