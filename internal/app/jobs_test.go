package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/sinktest"
)

func postJob(t *testing.T, api, path string, body any) (int, map[string]json.RawMessage) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(api+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestJobs runs jobs on the local runtime: a run on demand with extra
// environment that fails once and succeeds on its retry, its history, logs
// and job.* events; a Forbid job refusing a second run; an activeDeadline
// stopping a run; a runAtStart job.
func TestJobs(t *testing.T) {
	rcv := &sinktest.HookReceiver{}
	hook := httptest.NewServer(rcv)
	defer hook.Close()
	dir := t.TempDir()
	counter := filepath.Join(dir, "attempts")
	cfgText := fmt.Sprintf(`
dataDir: %s
workloads:
  - name: migrate
    project: jobs
    command: [/bin/sh, -c, 'n=$(cat %s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %s; echo "attempt $n of version $VERSION"; [ $n -ge 2 ]']
    restartPolicy: Never
    runAtStart: false
    backoffLimit: 2
  - name: slow
    project: jobs
    command: [/bin/sh, -c, 'echo started; sleep 30']
    restartPolicy: OnFailure
    concurrencyPolicy: Forbid
    gracePeriod: 1s
  - name: stuck
    project: jobs
    command: [/bin/sh, -c, 'sleep 60']
    restartPolicy: Never
    runAtStart: false
    activeDeadline: 1s
    gracePeriod: 1s
notifications:
  integrations:
    - {name: hook, type: webhook, url: %q, events: [job.*]}
`, dir, counter, counter, hook.URL+"/hook")
	cfg, err := app.ParseConfig([]byte(cfgText), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := startRun(t, cfg, app.Options{JobRetryDelay: 100 * time.Millisecond}).API
	c, err := client.New(api, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	var run client.JobRun
	sinktest.WaitFor(t, 30*time.Second, "the API to start a run", func() bool {
		var err error
		run, err = c.RunJob(ctx, "jobs", "migrate", map[string]string{"VERSION": "1.4.2"})
		return err == nil
	})
	if run.State != "running" || run.Trigger != "api" {
		t.Fatalf("new run %+v, want running, trigger api", run)
	}
	sinktest.WaitFor(t, 30*time.Second, "the migrate run to end", func() bool {
		runs, err := c.JobRuns(ctx, "jobs", "migrate")
		if err != nil || len(runs) == 0 {
			return false
		}
		run = runs[0]
		return run.State != "running"
	})
	if run.State != "succeeded" || run.Attempts != 2 || run.ExitCode == nil || *run.ExitCode != 0 || len(run.Instances) != 2 {
		t.Fatalf("run %+v, want succeeded on its second attempt with exit code 0", run)
	}
	// The run's logs are its instances' logs.
	sinktest.WaitFor(t, 30*time.Second, "the second attempt's output in the logs", func() bool {
		var lines []struct{ Log string }
		q := url.Values{"project": {"jobs"}, "service": {"migrate"}, "textIncludes": {"attempt 2 of version 1.4.2"}}
		code, _ := getJSON(api+"/api/v1/logs?"+q.Encode(), &lines)
		return code == 200 && len(lines) == 1
	})

	// runAtStart (the default without a schedule) started slow; Forbid
	// refuses a second run while it runs.
	sinktest.WaitFor(t, 30*time.Second, "slow's start-up run", func() bool {
		runs, err := c.JobRuns(ctx, "jobs", "slow")
		return err == nil && len(runs) == 1 && runs[0].Trigger == "start" && runs[0].State == "running"
	})
	if code, body := postJob(t, api, "/api/v1/jobs/jobs/slow/runs", map[string]any{}); code != http.StatusConflict {
		t.Errorf("second run of a Forbid job: %d %s, want 409", code, body["error"])
	}

	// activeDeadline stops a run and fails it.
	if code, body := postJob(t, api, "/api/v1/jobs/jobs/stuck/runs", nil); code != http.StatusAccepted {
		t.Fatalf("run stuck: %d %s", code, body["error"])
	}
	sinktest.WaitFor(t, 30*time.Second, "stuck to fail on its deadline", func() bool {
		runs, err := c.JobRuns(ctx, "jobs", "stuck")
		return err == nil && len(runs) == 1 && runs[0].State == "failed" && strings.HasPrefix(runs[0].Message, "DeadlineExceeded")
	})

	if code, _ := postJob(t, api, "/api/v1/jobs/jobs/nope/runs", nil); code != http.StatusNotFound {
		t.Errorf("run of an unknown job: %d, want 404", code)
	}

	sinktest.WaitFor(t, 30*time.Second, "job.started, job.succeeded and job.failed notifications", func() bool {
		var names []string
		for _, r := range rcv.Requests() {
			names = append(names, r.Event.Name+" "+r.Event.Service)
		}
		return slices.Contains(names, "job.started migrate") && slices.Contains(names, "job.succeeded migrate") &&
			slices.Contains(names, "job.failed stuck")
	})
}
