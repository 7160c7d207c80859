package continuous

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
	"github.com/opshub/opshub/release"
	"github.com/opshub/opshub/store"
)

// These tests run against the CNCF distribution registry; images are pushed
// with go-containerregistry's own writer. The release engine is stood in
// for by a recorder of deploys (test/e2e runs the real one on a cluster).

// push writes a new random image under tag and returns its digest.
func push(t *testing.T, repo, tag string, auth authn.Authenticator) string {
	t.Helper()
	return sinktest.Push(t, repo, tag, auth)
}

// releases records deploys; each release stays progressing until the test
// ends it.
type releases struct {
	mu   sync.Mutex
	hist []model.Release // newest first
	// failAfterRead, when set, rolls the newest release back right after
	// the next read of the history, as a release failing between two
	// looks does.
	failAfterRead bool
}

func (r *releases) Deploy(_ context.Context, ref model.Ref, ch release.Change, trigger model.ReleaseTrigger) (model.Release, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	spec := model.RunSpec{Images: map[string]string{}}
	if len(r.hist) > 0 {
		spec = r.hist[0].Spec.Clone()
	}
	spec.Images[ch.Container] = ch.Image
	rel := model.Release{Project: ref.Project, Service: ref.Service, Revision: len(r.hist) + 1, State: model.ReleaseProgressing, Spec: spec, Trigger: trigger, Reason: ch.Reason}
	r.hist = append([]model.Release{rel}, r.hist...)
	return rel, nil
}

func (r *releases) Releases(context.Context, model.Ref) ([]model.Release, error) {
	r.mu.Lock()
	out := append([]model.Release(nil), r.hist...)
	fail := r.failAfterRead
	r.failAfterRead = false
	r.mu.Unlock()
	if fail {
		r.end(model.ReleaseRolledBack)
	}
	return out, nil
}

// end ends the newest release as state; a failed one is rolled back to the
// spec before it, as the release engine does.
func (r *releases) end(state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hist[0].State = state
	if state == model.ReleaseRolledBack && len(r.hist) > 1 {
		back := model.Release{Revision: r.hist[0].Revision + 1, State: model.ReleaseSucceeded, Spec: r.hist[1].Spec.Clone(), Trigger: model.ReleaseTrigger{Kind: model.TriggerAutoRollback}}
		r.hist = append([]model.Release{back}, r.hist...)
	}
}

func (r *releases) images() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i := len(r.hist) - 1; i >= 0; i-- {
		if r.hist[i].Trigger.Kind == model.TriggerContinuous {
			out = append(out, r.hist[i].Spec.Images["web"])
		}
	}
	return out
}

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// start runs a watcher until the test ends.
func start(t *testing.T, targets []Target, opts Options) *Watcher {
	t.Helper()
	w, err := New(targets, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// eventually waits for cond, saying what it saw when it times out.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, saw func() string) {
	t.Helper()
	sinktest.Eventually(t, timeout, "the condition", func() error {
		if cond() {
			return nil
		}
		return errors.New(saw())
	})
}

var web = model.Ref{Project: "demo", Service: "web"}

func webTarget(image string) Target {
	return Target{Project: "demo", Service: "web", Container: "web", Source: Source{Image: image, Tag: "main", Interval: 100 * time.Millisecond}}
}

// deployed waits until the continuous releases deployed exactly want.
func deployed(t *testing.T, rels *releases, want ...string) {
	t.Helper()
	eventually(t, 20*time.Second, func() bool {
		return strings.Join(rels.images(), " ") == strings.Join(want, " ")
	}, func() string { return fmt.Sprintf("deployed %v, want %v", rels.images(), want) })
}

func TestNewDigestDeploysFailedDigestIsNotRetried(t *testing.T) {
	reg := sinktest.StartRegistry(t)
	image := reg.Host + "/acme/web"
	d1 := push(t, image, "main", nil)
	rels := &releases{}
	w := start(t, []Target{webTarget(image)}, Options{DB: openDB(t), Releases: rels, Follow: 50 * time.Millisecond})

	// The first digest read is deployed: the container ran another image.
	deployed(t, rels, image+"@"+d1)
	rels.end(model.ReleaseSucceeded)
	if rels.hist[0].Trigger.By != image+":main" {
		t.Errorf("trigger by %q, want %q", rels.hist[0].Trigger.By, image+":main")
	}

	// A new digest under the tag is deployed.
	d2 := push(t, image, "main", nil)
	deployed(t, rels, image+"@"+d1, image+"@"+d2)

	// It fails and is rolled back: it is not deployed again while the
	// tag still points at it.
	rels.end(model.ReleaseRolledBack)
	eventually(t, 10*time.Second, func() bool { return w.Status(web)[0].FailedDigest == d2 }, func() string { return fmt.Sprintf("state %+v", w.Status(web)[0]) })
	checked := w.Status(web)[0].Checked
	eventually(t, 10*time.Second, func() bool { return w.Status(web)[0].Checked.After(checked.Add(300 * time.Millisecond)) }, func() string { return "no poll after the failure" })
	deployed(t, rels, image+"@"+d1, image+"@"+d2)

	// The tag moves on: the new digest is deployed.
	d3 := push(t, image, "main", nil)
	deployed(t, rels, image+"@"+d1, image+"@"+d2, image+"@"+d3)
}

// TestAReleaseFailingBetweenTwoLooksIsNotRetried: the release of a digest
// fails and is rolled back right after the watcher read the history that
// showed it in progress; the next look must see the failure, not a
// container that runs something else.
func TestAReleaseFailingBetweenTwoLooksIsNotRetried(t *testing.T) {
	reg := sinktest.StartRegistry(t)
	image := reg.Host + "/acme/web"
	d1 := push(t, image, "main", nil)
	rels := &releases{}
	w := start(t, []Target{webTarget(image)}, Options{DB: openDB(t), Releases: rels, Follow: time.Hour})
	deployed(t, rels, image+"@"+d1)
	rels.end(model.ReleaseSucceeded)
	d2 := push(t, image, "main", nil)
	deployed(t, rels, image+"@"+d1, image+"@"+d2)
	rels.mu.Lock()
	rels.failAfterRead = true
	rels.mu.Unlock()
	eventually(t, 10*time.Second, func() bool { return w.Status(web)[0].FailedDigest == d2 },
		func() string { return fmt.Sprintf("state %+v", w.Status(web)[0]) })
	deployed(t, rels, image+"@"+d1, image+"@"+d2)
}

func TestDeployByHandPausesUntilResumedAndSurvivesRestart(t *testing.T) {
	reg := sinktest.StartRegistry(t)
	image := reg.Host + "/acme/web"
	d1 := push(t, image, "main", nil)
	rels := &releases{}
	db := openDB(t)
	w, err := New([]Target{webTarget(image)}, Options{DB: db, Releases: rels})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	deployed(t, rels, image+"@"+d1)
	rels.end(model.ReleaseSucceeded)

	w.Pause(web, "ci", "deploy by hand: revision 2")
	d2 := push(t, image, "main", nil)
	eventually(t, 10*time.Second, func() bool { return w.Status(web)[0].Digest == d2 }, func() string { return fmt.Sprintf("state %+v", w.Status(web)[0]) })
	st := w.Status(web)[0]
	if !st.Paused || st.PausedBy != "ci" || st.PausedAt == nil {
		t.Fatalf("state %+v, want paused by ci", st)
	}

	// A restart keeps the pause.
	cancel()
	<-done
	w = start(t, []Target{webTarget(image)}, Options{DB: db, Releases: rels})
	if st := w.Status(web)[0]; !st.Paused || st.Digest != d2 {
		t.Fatalf("after a restart: %+v, want paused with digest %s", st, d2)
	}
	checked := w.Status(web)[0].Checked
	eventually(t, 10*time.Second, func() bool { return w.Status(web)[0].Checked.After(checked) }, func() string { return "no poll after the restart" })
	deployed(t, rels, image+"@"+d1)

	states, err := w.Resume(web)
	if err != nil || len(states) != 1 || states[0].Paused {
		t.Fatalf("Resume: %+v, %v", states, err)
	}
	deployed(t, rels, image+"@"+d1, image+"@"+d2)

	if _, err := w.Resume(model.Ref{Project: "demo", Service: "api"}); err == nil || !strings.Contains(err.Error(), "no continuous deployment") {
		t.Errorf("Resume of a service without continuous deployment: %v", err)
	}
}

func TestUndoOfPauseRestoresIt(t *testing.T) {
	w, err := New([]Target{webTarget("registry.example.com/acme/web")}, Options{DB: openDB(t), Releases: &releases{}})
	if err != nil {
		t.Fatal(err)
	}
	undo := w.Pause(web, "ci", "deploy")
	if !w.Status(web)[0].Paused {
		t.Fatal("not paused")
	}
	undo()
	if st := w.Status(web)[0]; st.Paused || st.PausedBy != "" {
		t.Fatalf("after undo: %+v", st)
	}
}

func TestSemverRangeFollowsTheHighestMatchingTag(t *testing.T) {
	reg := sinktest.StartRegistry(t)
	image := reg.Host + "/acme/api"
	digests := map[string]string{}
	for _, tag := range []string{"1.3.9", "1.4.0", "v1.4.3", "1.4.10-rc.1", "1.5.0", "latest"} {
		digests[tag] = push(t, image, tag, nil)
	}
	r, err := newRegistry(nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.resolve(context.Background(), Source{Image: image, Semver: "~1.4"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got.Tag != "v1.4.3" || got.Digest != digests["v1.4.3"] {
		t.Errorf("~1.4 resolved to %+v, want v1.4.3 %s", got, digests["v1.4.3"])
	}
	if _, err := r.resolve(context.Background(), Source{Image: image, Semver: "~2"}, ""); err == nil || !strings.Contains(err.Error(), `no tag in semver range "~2"`) {
		t.Errorf("a range no tag is in: %v", err)
	}
	if _, err := r.resolve(context.Background(), Source{Image: image, Tag: "nope"}, ""); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("a missing tag: %v", err)
	}
}

// checkLogin pushes an image to a registry that asks for ci/s3cret and
// checks that only those credentials read its digest.
func checkLogin(t *testing.T, host string) (r *registry, image, digest string) {
	t.Helper()
	image = host + "/acme/web"
	digest = push(t, image, "main", &authn.Basic{Username: "ci", Password: "s3cret"})
	r, err := newRegistry(nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := r.resolve(ctx, Source{Image: image, Tag: "main"}, ""); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("anonymous on a registry that asks for a login: %v", err)
	}
	got, err := r.resolve(ctx, Source{Image: image, Tag: "main", Auth: Auth{Username: "ci", Password: "s3cret"}}, "")
	if err != nil || got.Digest != digest {
		t.Fatalf("username and password: %+v, %v", got, err)
	}
	if _, err := r.resolve(ctx, Source{Image: image, Tag: "main", Auth: Auth{Username: "ci", Password: "wrong"}}, ""); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	return r, image, digest
}

func TestBasicAuthAndDockerConfigFile(t *testing.T) {
	reg := sinktest.StartRegistryWithLogin(t, "ci", "s3cret")
	r, image, d1 := checkLogin(t, reg.Host)
	ctx := context.Background()

	file := filepath.Join(t.TempDir(), "config.json")
	cfg := fmt.Sprintf(`{"auths": {"other.example.com": {"auth": "eDp5"}, "http://%s/v1/": {"auth": %q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte("ci:s3cret")))
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := r.resolve(ctx, Source{Image: image, Tag: "main", Auth: Auth{DockerConfigFile: file}}, "")
	if err != nil || got.Digest != d1 {
		t.Fatalf("docker config file: %+v, %v", got, err)
	}

	// A pull Secret's .dockerconfigjson, read through the platform.
	r.secret = func(_ context.Context, namespace, secret string) ([]byte, error) {
		if namespace != "demo" || secret != "regcred" {
			return nil, fmt.Errorf("secret %s/%s not found", namespace, secret)
		}
		return []byte(cfg), nil
	}
	got, err = r.resolve(ctx, Source{Image: image, Tag: "main", Auth: Auth{PullSecret: "regcred"}}, "demo")
	if err != nil || got.Digest != d1 {
		t.Fatalf("pull secret: %+v, %v", got, err)
	}
	_, err = r.resolve(ctx, Source{Image: "registry.invalid/x", Tag: "main", Auth: Auth{DockerConfigFile: file}}, "")
	if err == nil || !strings.Contains(err.Error(), "has no entry for registry.invalid") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a config without the registry: %v", err)
	}
}

func TestRateLimitWaitsForRetryAfter(t *testing.T) {
	reg := sinktest.StartRegistry(t)
	d1 := push(t, reg.Host+"/acme/web", "main", nil)
	lim := sinktest.LimitRegistry(t, reg, 2*time.Second)
	image := lim.Host + "/acme/web"

	rels := &releases{}
	target := webTarget(image)
	target.Interval = time.Hour // only the rate limit's retry can poll again
	w := start(t, []Target{target}, Options{DB: openDB(t), Releases: rels, FirstRetry: 100 * time.Millisecond})
	deployed(t, rels, image+"@"+d1)

	times := lim.Requests()
	if len(times) < 2 {
		t.Fatalf("%d requests", len(times))
	}
	if gap := times[1].Sub(times[0]); gap < 2*time.Second {
		t.Errorf("asked again %s after a 429 with Retry-After: 2", gap)
	}
	if st := w.Status(web)[0]; st.Error != "" {
		t.Errorf("error left after a poll that worked: %q", st.Error)
	}
}

// flows records the runs started.
type flows struct {
	mu   sync.Mutex
	runs []map[string]string
}

func (f *flows) StartImage(flow, _ string, args map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, args)
	return fmt.Sprintf("%s-%d", flow, len(f.runs)), nil
}

func (f *flows) started() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]string(nil), f.runs...)
}

func TestImageTriggerStartsAFlowForANewDigest(t *testing.T) {
	reg := sinktest.StartRegistry(t)
	image := reg.Host + "/acme/web"
	d1 := push(t, image, "1.0.0", nil)
	fl := &flows{}
	w := start(t, []Target{{Flow: "ship", Source: Source{Image: image, Semver: "^1", Interval: 100 * time.Millisecond}}}, Options{DB: openDB(t), Flows: fl})

	// The first digest is the starting point.
	eventually(t, 10*time.Second, func() bool { return len(w.Flow("ship")) == 1 && w.Flow("ship")[0].Digest == d1 }, func() string { return fmt.Sprintf("state %+v", w.Flow("ship")) })
	if runs := fl.started(); len(runs) != 0 {
		t.Fatalf("runs started for the first digest: %v", runs)
	}
	d2 := push(t, image, "1.1.0", nil)
	eventually(t, 10*time.Second, func() bool { return len(fl.started()) == 1 }, func() string { return fmt.Sprintf("runs %v", fl.started()) })
	args := fl.started()[0]
	if args["IMAGE"] != image+"@"+d2 || args["DIGEST"] != d2 || args["TAG"] != "1.1.0" {
		t.Errorf("run arguments %v", args)
	}
	if st := w.Flow("ship")[0]; st.Run != "ship-1" {
		t.Errorf("state %+v, want run ship-1", st)
	}
}

// TestTokenServiceLogin: basic credentials go to the registry's token
// service for a bearer token, as with Docker Hub; an anonymous token grants
// nothing on this registry.
func TestTokenServiceLogin(t *testing.T) {
	reg := sinktest.StartRegistryWithTokenService(t, "ci", "s3cret")
	before := reg.Tokens.Load()
	checkLogin(t, reg.Host)
	if reg.Tokens.Load() == before {
		t.Error("no token was asked for")
	}
}
