package app_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// githubPush is GitHub's push payload for a push of main (release/webhook's
// recorded example).
func githubPush(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../release/webhook/testdata/github-push.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const pushSHA = "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"

// hook posts body to /hooks/flows/{name}, signed as GitHub signs with
// secret ("" for no signature), and returns the status and answer.
func hook(t *testing.T, api, name, secret, delivery string, body []byte) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, api+"/hooks/flows/"+name, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	if secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// waitFlowRun waits until run id has ended and returns it.
func waitFlowRun(t *testing.T, c *client.Client, id string) client.FlowRun {
	t.Helper()
	var run client.FlowRun
	sinktest.WaitFor(t, 60*time.Second, "flow run "+id+" to end", func() bool {
		var err error
		run, err = c.FlowRun(t.Context(), id)
		return err == nil && run.Done()
	})
	return run
}

// firstFlowRun starts the first run of a flow once opshub serves its API.
func firstFlowRun(t *testing.T, api, name string, args map[string]string) (*client.Client, client.FlowRun) {
	t.Helper()
	c, _ := client.New(api, "")
	var run client.FlowRun
	sinktest.WaitFor(t, 30*time.Second, "the API to start a run", func() bool {
		var err error
		run, err = c.RunFlow(t.Context(), name, args)
		return err == nil
	})
	return c, run
}

func step(run client.FlowRun, name string) client.FlowStep {
	for _, s := range run.Steps {
		if s.Name == name {
			return s
		}
	}
	return client.FlowStep{}
}

// TestFlowShipsASignedPush is the main scenario on the real
// runtime: a signed GitHub push runs backup → migrate (a job) → deploy in
// order with the push's sha; unsigned, wrongly signed, other-branch,
// [skip ci], duplicate and oversized calls start nothing; flow.* events
// reach a notification integration.
func TestFlowShipsASignedPush(t *testing.T) {
	rcv := &sinktest.HookReceiver{}
	notify := httptest.NewServer(rcv)
	defer notify.Close()
	chat := newChat()
	chatSrv := httptest.NewServer(chat)
	defer chatSrv.Close()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`
dataDir: %[1]s
workloads:
  - name: db
    project: demo
    command: [/bin/sh, -c, 'echo "rows" > "$OPSHUB_VOLUME_DATA/table"; exec sleep 3600']
    volumes: [{name: data, capacity: 10Mi}]
    gracePeriod: 1s
  - name: migrate
    project: demo
    command: [/bin/sh, -c, 'echo "migrating to $VERSION"']
    restartPolicy: Never
    runAtStart: false
  - name: web
    project: demo
    command: [/bin/sh, -c, 'echo "web $VERSION"; exec sleep 3600']
    env: {VERSION: none}
    gracePeriod: 1s
release:
  flows:
    - name: ship
      triggers: [{webhook: {secretFile: %[2]s, branch: main}}]
      steps:
        - {name: backup,  backup: {project: demo, service: db, volume: data}}
        - {name: migrate, job: {project: demo, name: migrate, env: {VERSION: "${ARG_SHA}"}}, needs: [backup]}
        - {name: deploy,  deploy: {project: demo, service: web, env: {VERSION: "${ARG_SHA}"}}, needs: [migrate]}
        - {name: notify,  http: {url: "%[3]s/chat", body: "shipped ${ARG_SHA} of ${ARG_REPO}"}, needs: [deploy]}
notifications:
  integrations:
    - {name: hook, type: webhook, url: %[4]q, secret: hook-secret, events: [flow.*]}
`, dir, secretFile, chatSrv.URL, notify.URL+"/hook")
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := startRun(t, cfg, app.Options{}).API
	c, _ := client.New(api, "")
	sinktest.WaitFor(t, 30*time.Second, "the db instance to write its volume", func() bool {
		_, err := os.Stat(filepath.Join(dir, "volumes/demo/db/data/table"))
		return err == nil
	})
	push := githubPush(t)

	// Refused calls start nothing.
	if code, out := hook(t, api, "ship", "", "d-0", push); code != http.StatusUnauthorized {
		t.Errorf("unsigned call: %d %v, want 401", code, out)
	}
	if code, out := hook(t, api, "ship", "wrong", "d-0", push); code != http.StatusUnauthorized {
		t.Errorf("wrongly signed call: %d %v, want 401", code, out)
	}
	big := append(bytes.Repeat([]byte(" "), 1<<20), push...)
	if code, out := hook(t, api, "ship", "s3cret", "d-big", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("body over 1 MiB: %d %v, want 413", code, out)
	}
	other := bytes.Replace(push, []byte(`"refs/heads/main"`), []byte(`"refs/heads/feature"`), 1)
	if code, out := hook(t, api, "ship", "s3cret", "d-1", other); code != http.StatusOK || !strings.Contains(out["skipped"], "feature") {
		t.Errorf("push to another branch: %d %v, want 200 skipped", code, out)
	}
	skip := bytes.ReplaceAll(push, []byte(`"Update README.md"`), []byte(`"docs only [skip ci]"`))
	if code, out := hook(t, api, "ship", "s3cret", "d-2", skip); code != http.StatusOK || !strings.Contains(out["skipped"], "skip ci") {
		t.Errorf("[skip ci] push: %d %v, want 200 skipped", code, out)
	}
	if runs, _ := c.FlowRuns(t.Context(), "ship"); len(runs) != 0 {
		t.Fatalf("refused calls started %d runs", len(runs))
	}

	code, out := hook(t, api, "ship", "s3cret", "d-3", push)
	if code != http.StatusAccepted || out["run"] == "" {
		t.Fatalf("signed push: %d %v, want 202 with a run", code, out)
	}
	if code, again := hook(t, api, "ship", "s3cret", "d-3", push); code != http.StatusOK || !strings.Contains(again["skipped"], "duplicate") {
		t.Errorf("the same delivery again: %d %v, want 200 skipped as a duplicate", code, again)
	}
	run := waitFlowRun(t, c, out["run"])
	if run.State != "succeeded" {
		t.Fatalf("run %+v, want succeeded", run)
	}
	if run.Trigger.Kind != "webhook" || run.Args["SHA"] != pushSHA || run.Args["BRANCH"] != "main" || run.Args["REPO"] != "acme/web" {
		t.Errorf("trigger %+v args %v, want webhook with the push's sha, branch and repository", run.Trigger, run.Args)
	}
	// In order: each step started after the one it needs finished.
	for _, pair := range [][2]string{{"backup", "migrate"}, {"migrate", "deploy"}, {"deploy", "notify"}} {
		a, b := step(run, pair[0]), step(run, pair[1])
		if a.State != "succeeded" || b.Started.Before(a.Finished) {
			t.Errorf("%s (%s, finished %s) and %s (started %s): want %s to start after %s succeeded", a.Name, a.State, a.Finished, b.Name, b.Started, b.Name, a.Name)
		}
	}
	// The backup is an archive of the volume, kept with the run.
	if b := step(run, "backup"); !strings.HasPrefix(b.Backup, filepath.Join(dir, "backups", "ship", run.ID)) || !archiveHas(t, b.Backup, "table", "rows\n") {
		t.Errorf("backup step %+v: want an archive under dataDir/backups holding the volume's file", b)
	}
	// The migration ran as a job run with the sha.
	jobRuns, err := c.JobRuns(t.Context(), "demo", "migrate")
	if err != nil || len(jobRuns) != 1 || jobRuns[0].Trigger != "flow" || jobRuns[0].Env["VERSION"] != pushSHA || step(run, "migrate").JobRun != jobRuns[0].ID {
		t.Errorf("job runs %+v (%v), want one run by the flow with VERSION=%s", jobRuns, err, pushSHA)
	}
	if lines, _ := c.FlowStepLogs(t.Context(), run.ID, "migrate"); !slices.Contains(lines, "migrating to "+pushSHA) {
		t.Errorf("migrate step logs %q, want the job's output", lines)
	}
	// The deploy made a release triggered by the flow run.
	var rels struct{ Releases []model.Release }
	getJSON(api+"/api/v1/services/demo/web/releases", &rels)
	if len(rels.Releases) != 2 || rels.Releases[0].Spec.Env["VERSION"] != pushSHA || rels.Releases[0].Trigger.Kind != "flow" ||
		rels.Releases[0].Trigger.FlowRun != run.ID || step(run, "deploy").Revision != 2 {
		t.Errorf("releases %+v, want revision 2 with VERSION=%s triggered by flow run %s", rels.Releases, pushSHA, run.ID)
	}
	if got := chat.bodies(); len(got) != 1 || got[0] != "shipped "+pushSHA+" of acme/web" {
		t.Errorf("chat got %q, want one message with the sha", got)
	}
	sinktest.WaitFor(t, 30*time.Second, "flow.started and flow.succeeded notifications", func() bool {
		var names []string
		for _, r := range rcv.Requests() {
			names = append(names, r.Event.Name)
		}
		return slices.Contains(names, "flow.started") && slices.Contains(names, "flow.succeeded")
	})

	// A rollback of the run puts web back to revision 1 and says what it
	// does not undo.
	rb, err := c.RollbackFlowRun(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	rb = waitFlowRun(t, c, rb.ID)
	if rb.State != "succeeded" || rb.Trigger.Kind != "rollback" || !strings.Contains(rb.Message, "job step migrate") || !strings.Contains(rb.Message, "backup step backup") {
		t.Errorf("rollback run %+v, want succeeded naming the job and backup it does not undo", rb)
	}
	rels.Releases = nil
	getJSON(api+"/api/v1/services/demo/web/releases", &rels)
	if rels.Releases[0].Spec.Env["VERSION"] != "none" || rels.Releases[0].RollbackOf != 1 {
		t.Errorf("after the rollback web runs %+v, want revision 1's spec again", rels.Releases[0])
	}
}

// archiveHas tells whether the tar.gz at path holds name with content.
func archiveHas(t *testing.T, path, name, content string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Log(err)
		return false
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			return false
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return string(b) == content
		}
	}
}

// chatServer records the bodies posted to it.
type chatServer struct {
	mu  sync.Mutex
	got []string
}

func newChat() *chatServer { return &chatServer{} }

func (c *chatServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.got = append(c.got, string(b))
	c.mu.Unlock()
}

func (c *chatServer) bodies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// TestFlowFailuresRetriesAndParallelSteps: two steps without needs between
// them run at the same time; a step that always fails is tried retries + 1
// times and the steps after it never run, while a running one finishes;
// flow.failed names the step with its last lines; a run missing an
// argument fails before any step starts.
func TestFlowFailuresRetriesAndParallelSteps(t *testing.T) {
	rcv := &sinktest.HookReceiver{}
	notify := httptest.NewServer(rcv)
	defer notify.Close()
	dir := t.TempDir()
	cfgText := fmt.Sprintf(`
dataDir: %[1]s
release:
  flows:
    - name: together
      steps:
        # Each waits for the other's mark: they succeed only side by side.
        - {name: a, run: {command: [/bin/sh, -c, 'touch %[1]s/a; while [ ! -f %[1]s/b ]; do sleep 0.05; done']}, timeout: 20s}
        - {name: b, run: {command: [/bin/sh, -c, 'touch %[1]s/b; while [ ! -f %[1]s/a ]; do sleep 0.05; done']}, timeout: 20s}
        - {name: c, run: {command: [/bin/sh, -c, 'echo "c got $GREETING and $ARG"']}, env: {GREETING: "${ARG_GREETING}"}, needs: [a, b]}
    - name: breaks
      steps:
        - {name: flaky, run: {command: [/bin/sh, -c, 'echo try >> %[1]s/tries; echo "cannot reach db" >&2; exit 3']}, retries: 2}
        - {name: slow, run: {command: [/bin/sh, -c, 'sleep 1; touch %[1]s/slow-done']}}
        - {name: after, run: {command: [/bin/sh, -c, 'touch %[1]s/after-ran']}, needs: [flaky]}
notifications:
  integrations:
    - {name: hook, type: webhook, url: %[2]q, secret: hook-secret, events: [flow.failed]}
`, dir, notify.URL+"/hook")
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := startRun(t, cfg, app.Options{FlowRetryDelay: 50 * time.Millisecond}).API
	c, run := firstFlowRun(t, api, "together", map[string]string{"greeting": "hi"})
	run = waitFlowRun(t, c, run.ID)
	if run.State != "succeeded" {
		t.Fatalf("parallel run %+v, want succeeded", run)
	}
	if lines, _ := c.FlowStepLogs(t.Context(), run.ID, "c"); !slices.Contains(lines, "c got hi and ") {
		t.Errorf("step c printed %q, want the argument in its env", lines)
	}

	run, err = c.RunFlow(t.Context(), "together", nil)
	if err != nil {
		t.Fatal(err)
	}
	if run.State != "failed" || !strings.Contains(run.Message, "ARG_GREETING") || step(run, "a").State != "skipped" {
		t.Errorf("run without its argument %+v, want failed naming ARG_GREETING with no step run", run)
	}

	run, err = c.RunFlow(t.Context(), "breaks", nil)
	if err != nil {
		t.Fatal(err)
	}
	run = waitFlowRun(t, c, run.ID)
	tries, _ := os.ReadFile(filepath.Join(dir, "tries"))
	flaky := step(run, "flaky")
	if run.State != "failed" || flaky.State != "failed" || flaky.Attempts != 3 || strings.Count(string(tries), "try") != 3 {
		t.Errorf("run %+v, flaky %+v, %d tries: want failed after 3 attempts", run, flaky, strings.Count(string(tries), "try"))
	}
	if step(run, "after").State != "skipped" || fileExists(filepath.Join(dir, "after-ran")) {
		t.Errorf("the step after the failed one: %+v, want skipped and never run", step(run, "after"))
	}
	if step(run, "slow").State != "succeeded" || !fileExists(filepath.Join(dir, "slow-done")) {
		t.Errorf("the running step beside the failure: %+v, want it let finish", step(run, "slow"))
	}
	sinktest.WaitFor(t, 30*time.Second, "flow.failed naming the step and its last lines", func() bool {
		for _, r := range rcv.Requests() {
			logs, _ := r.Event.Data["logs"].([]any)
			if r.Event.Name == "flow.failed" && r.Event.Data["step"] == "flaky" && slices.Contains(logs, any("cannot reach db")) {
				return true
			}
		}
		return false
	})
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestFlowConcurrencyAndApproval: queue runs one run at a time in order;
// forbid refuses a second run (409 on the API, 200 skipped on the webhook);
// an approval step waits until approved and then the run goes on; cancel
// stops a run.
func TestFlowConcurrencyAndApproval(t *testing.T) {
	dir := t.TempDir()
	cfgText := fmt.Sprintf(`
dataDir: %[1]s
release:
  flows:
    - name: queued
      concurrency: queue
      steps:
        - {name: work, run: {command: [/bin/sh, -c, 'echo "$(date +%%s%%N) start ${ARG_N}" >> %[1]s/queue; sleep 0.5; echo "$(date +%%s%%N) end ${ARG_N}" >> %[1]s/queue']}}
    - name: alone
      concurrency: forbid
      triggers: [{webhook: {secret: s3cret}}]
      steps:
        - {name: gate, approval: {message: "ship it?"}}
        - {name: done, run: {command: [/bin/sh, -c, 'touch %[1]s/approved-ran']}, needs: [gate]}
`, dir)
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := startRun(t, cfg, app.Options{}).API
	c, first := firstFlowRun(t, api, "queued", map[string]string{"N": "1"})
	second, err := c.RunFlow(t.Context(), "queued", map[string]string{"N": "2"})
	if err != nil {
		t.Fatal(err)
	}
	third, _ := c.RunFlow(t.Context(), "queued", map[string]string{"N": "3"})
	if first.State != "running" || second.State != "queued" || third.State != "queued" {
		t.Errorf("states %s, %s, %s; want running, queued, queued", first.State, second.State, third.State)
	}
	for _, r := range []client.FlowRun{first, second, third} {
		if got := waitFlowRun(t, c, r.ID); got.State != "succeeded" {
			t.Errorf("run %s: %+v", r.ID, got)
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "queue"))
	var order []string
	for _, l := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		f := strings.Fields(l)
		order = append(order, f[1]+" "+f[2])
	}
	if want := []string{"start 1", "end 1", "start 2", "end 2", "start 3", "end 3"}; !slices.Equal(order, want) {
		t.Errorf("queued runs ran %q, want one at a time in order %q", order, want)
	}

	gated, err := c.RunFlow(t.Context(), "alone", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RunFlow(t.Context(), "alone", nil); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("second run of a forbid flow: %v, want 409", err)
	}
	req, _ := http.NewRequest(http.MethodPost, api+"/hooks/flows/alone", strings.NewReader(`{}`))
	req.Header.Set("X-Gitlab-Token", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "forbid") {
		t.Errorf("webhook while a forbid flow runs: %d %s, want 200 skipped", resp.StatusCode, body)
	}
	sinktest.WaitFor(t, 30*time.Second, "the approval step to wait", func() bool {
		r, err := c.FlowRun(t.Context(), gated.ID)
		return err == nil && step(r, "gate").State == "waiting"
	})
	if fileExists(filepath.Join(dir, "approved-ran")) {
		t.Fatal("the step after the approval ran before it was approved")
	}
	if _, err := c.ApproveFlowStep(t.Context(), gated.ID, "done"); err == nil {
		t.Error("approving a step that is not an approval succeeded")
	}
	if _, err := c.ApproveFlowStep(t.Context(), gated.ID, "gate"); err != nil {
		t.Fatal(err)
	}
	gated = waitFlowRun(t, c, gated.ID)
	if gated.State != "succeeded" || step(gated, "gate").ApprovedBy != "loopback" || !fileExists(filepath.Join(dir, "approved-ran")) {
		t.Errorf("approved run %+v, want succeeded, approved by loopback", gated)
	}

	// Cancel stops a waiting run; the steps after are skipped.
	waiting, err := c.RunFlow(t.Context(), "alone", nil)
	if err != nil {
		t.Fatal(err)
	}
	sinktest.WaitFor(t, 30*time.Second, "the approval step to wait", func() bool {
		r, err := c.FlowRun(t.Context(), waiting.ID)
		return err == nil && step(r, "gate").State == "waiting"
	})
	cancelled, err := c.CancelFlowRun(t.Context(), waiting.ID)
	if err != nil || cancelled.State != "cancelled" || step(cancelled, "done").State != "skipped" {
		t.Errorf("cancelled run %+v (%v), want cancelled with the later step skipped", cancelled, err)
	}
}

// TestFlowGitTrigger polls a real bare repository on disk: each new commit
// pushed to the watched branch starts one run with its sha, a commit on
// another branch starts none, and the same head is never run twice, not
// even after a restart.
func TestFlowGitTrigger(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		sinktest.Missing(t, "git is not installed (apt-get install git)")
	}
	dir := t.TempDir()
	bare, work := filepath.Join(dir, "repo.git"), filepath.Join(dir, "work")
	git := func(cwd string, args ...string) string {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = cwd
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(dir, "init", "-q", "--bare", "-b", "main", bare)
	git(dir, "init", "-q", "-b", "main", work)
	commit := func(branch, msg string) string {
		git(work, "checkout", "-q", "-B", branch)
		git(work, "commit", "-q", "--allow-empty", "-m", msg)
		git(work, "push", "-q", bare, branch)
		return git(work, "rev-parse", "HEAD")
	}
	first := commit("main", "first")

	cfgText := fmt.Sprintf(`
dataDir: %[1]s
release:
  flows:
    - name: follow
      concurrency: allow
      triggers: [{git: {repo: %[2]s, branch: main, pollInterval: 1s}}]
      steps:
        - {name: build, run: {command: [/bin/sh, -c, 'echo "${ARG_SHA} ${ARG_BRANCH} ${ARG_REPO}" >> %[1]s/built']}}
`, dir, bare)
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	opshub := startRun(t, cfg, app.Options{})
	c, _ := client.New(opshub.API, "")
	runs := func() []client.FlowRun {
		r, _ := c.FlowRuns(t.Context(), "follow")
		return r
	}
	// The head found at the first read is the starting point, not news.
	readHead := func(want string) func() bool {
		return func() bool {
			flows, err := c.Flows(t.Context())
			return err == nil && len(flows) == 1 && len(flows[0].Git) == 1 && flows[0].Git[0].Head == want
		}
	}
	sinktest.WaitFor(t, 30*time.Second, "the trigger to read the first head", readHead(first))
	second := commit("main", "second")
	sinktest.WaitFor(t, 30*time.Second, "a run for the second commit", func() bool { return len(runs()) >= 1 })
	commit("feature", "elsewhere")
	third := commit("main", "third")
	sinktest.WaitFor(t, 30*time.Second, "a run for the third commit", func() bool { return len(runs()) >= 2 })
	got := runs()
	for _, r := range got {
		waitFlowRun(t, c, r.ID)
	}
	if len(got) != 2 || got[1].Args["SHA"] != second || got[0].Args["SHA"] != third || got[0].Trigger.Kind != "git" || got[0].Args["BRANCH"] != "main" || got[0].Args["REPO"] != bare {
		t.Fatalf("runs %+v, want one per new commit of main (%s, %s), none for %s", got, second, third, first)
	}
	// A restart reads the same head: no run.
	if err := opshub.stop(); err != nil {
		t.Fatal(err)
	}
	opshub = startRun(t, cfg, app.Options{})
	c, _ = client.New(opshub.API, "")
	sinktest.WaitFor(t, 30*time.Second, "the trigger to read the head after the restart", readHead(third))
	fourth := commit("main", "fourth")
	sinktest.WaitFor(t, 30*time.Second, "a run for the fourth commit", func() bool { return len(runs()) >= 3 })
	if got := runs(); len(got) != 3 || got[0].Args["SHA"] != fourth {
		t.Fatalf("runs after a restart %+v, want exactly one more, for %s", got, fourth)
	}
	waitFlowRun(t, c, runs()[0].ID)
	built, _ := os.ReadFile(filepath.Join(dir, "built"))
	if want := second + " main " + bare + "\n" + third + " main " + bare + "\n" + fourth + " main " + bare + "\n"; string(built) != want {
		t.Errorf("the steps saw\n%s\nwant\n%s", built, want)
	}
}

// TestFlowPromoteAndApprovalTimeout: a promote step copies staging's
// current release (command, env, version) onto production, removing what
// staging does not have, while each keeps its own groups' variables (no
// secret of staging's goes to production); an approval nobody gives fails
// at its timeout.
func TestFlowPromoteAndApprovalTimeout(t *testing.T) {
	dir := t.TempDir()
	cfgText := fmt.Sprintf(`
dataDir: %s
workloads:
  - {name: site, project: staging, command: [/bin/sh, -c, 'exec sleep 3600'], env: {COLOR: blue}, gracePeriod: 1s}
  - {name: web, project: prod, command: [/bin/sh, -c, 'exec sleep 3600'], env: {COLOR: green, OLD: x}, gracePeriod: 1s}
groups:
  - {name: staging-db, kind: secret, selector: {projects: [staging]}, data: {TOKEN: staging-secret}}
  - {name: prod-region, kind: config, selector: {projects: [prod]}, data: {REGION: eu}}
release:
  flows:
    - name: promote
      steps:
        - {name: gate, approval: {}, timeout: 300ms}
    - name: go-live
      steps:
        - {name: copy, promote: {from: {project: staging, service: site}, to: {project: prod, service: web}}}
`, dir)
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := startRun(t, cfg, app.Options{}).API
	c, run := firstFlowRun(t, api, "promote", nil)
	run = waitFlowRun(t, c, run.ID)
	if gate := step(run, "gate"); run.State != "failed" || gate.State != "failed" || !strings.Contains(gate.Message, "not approved: timed out after 300ms") {
		t.Errorf("unapproved run %+v, want failed at the approval's timeout", run)
	}

	// Staging gets a new release first; promote copies it.
	code, body := postJob(t, api, "/api/v1/services/staging/site/deploy", map[string]any{"env": map[string]string{"COLOR": "red"}, "version": "2.0"})
	if code != http.StatusAccepted {
		t.Fatalf("deploy staging: %d %s", code, body["error"])
	}
	var rels struct{ Releases []model.Release }
	sinktest.WaitFor(t, 30*time.Second, "staging's revision 2", func() bool {
		getJSON(api+"/api/v1/services/staging/site/releases", &rels)
		return len(rels.Releases) == 2 && rels.Releases[0].State == model.ReleaseSucceeded
	})
	run, err = c.RunFlow(t.Context(), "go-live", nil)
	if err != nil {
		t.Fatal(err)
	}
	run = waitFlowRun(t, c, run.ID)
	rels.Releases = nil // decoding into the old elements would merge their maps
	getJSON(api+"/api/v1/services/prod/web/releases", &rels)
	spec := rels.Releases[0].Spec
	_, hasOld := spec.Env["OLD"]
	_, hasToken := spec.Env["TOKEN"]
	if run.State != "succeeded" || spec.Env["COLOR"] != "red" || hasOld || hasToken || spec.Env["REGION"] != "eu" || spec.Version != "2.0" || rels.Releases[0].Trigger.FlowRun != run.ID {
		t.Errorf("after the promote prod runs %+v (run %s), want staging's env and version", rels.Releases[0], run.State)
	}
}

// TestFlowExample runs examples/flows.yaml's flow as the docs tell: every
// step succeeds and web answers with the new version.
func TestFlowExample(t *testing.T) {
	b, err := os.ReadFile("../../examples/flows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := sinktest.FreePort(t)
	chat := newChat()
	chatSrv := httptest.NewServer(chat)
	defer chatSrv.Close()
	text := strings.NewReplacer(
		"http://127.0.0.1:7420/healthz", chatSrv.URL,
		"./bin/opshub-demo", demoBinary(t),
		"dataDir: ./.opshub-flows", "dataDir: "+dir,
		"127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port),
		"port: 8080", fmt.Sprintf("port: %d", port),
	).Replace(string(b))
	cfg, err := app.ParseConfig([]byte(text), "flows.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := startRun(t, cfg, app.Options{})
	c, run := firstFlowRun(t, api.API, "ship-web", map[string]string{"version": "2.0"})
	run = waitFlowRun(t, c, run.ID)
	if run.State != "succeeded" {
		for _, st := range run.Steps {
			lines, _ := c.FlowStepLogs(t.Context(), run.ID, st.Name)
			t.Logf("%s %s: %s\n%s", st.Name, st.State, st.Message, strings.Join(lines, "\n"))
		}
		t.Fatalf("the example's run %s: %s", run.State, run.Message)
	}
	if len(chat.bodies()) != 1 {
		t.Errorf("the notify step called %d times, want once", len(chat.bodies()))
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "version 2.0") {
		t.Errorf("web answers %q, want version 2.0", body)
	}
}
