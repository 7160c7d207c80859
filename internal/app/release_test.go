package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/loadgen"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// postJSON posts body and decodes the answer into out; it returns the code.
func postJSON(t *testing.T, url string, body any, out any) int {
	t.Helper()
	raw, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("POST %s: %d %s: %v", url, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// getService reads one service from GET /api/v1/services/{project}/{service}.
func getService(url string) (model.Service, bool) {
	var body struct{ Services []model.Service }
	if code, err := getJSON(url, &body); code != 200 || err != nil || len(body.Services) != 1 {
		return model.Service{}, false
	}
	return body.Services[0], true
}

type apiErr struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

// releasesOf reads a service's history, newest first.
func releasesOf(t *testing.T, api, svc string) []model.Release {
	t.Helper()
	var out struct{ Releases []model.Release }
	if code, err := getJSON(api+"/api/v1/services/"+svc+"/releases", &out); err != nil || code != 200 {
		t.Fatalf("GET releases: %d %v", code, err)
	}
	return out.Releases
}

// waitRelease waits until revision rev of svc has state.
func waitRelease(t *testing.T, api, svc string, rev int, state string, timeout time.Duration) model.Release {
	t.Helper()
	var got model.Release
	sinktest.WaitFor(t, timeout, fmt.Sprintf("revision %d %s", rev, state), func() bool {
		for _, r := range releasesOf(t, api, svc) {
			if r.Revision == rev {
				got = r
				if r.State != model.ReleaseProgressing && r.State != state {
					t.Fatalf("revision %d ended %s (%s), want %s", rev, r.State, r.Reason, state)
				}
				return r.State == state
			}
		}
		return false
	})
	return got
}

// TestReleasesWithoutDowntime deploys a service, tries a crash-looping
// release that is rolled back by itself, and rolls back by hand, while a
// steady stream of requests goes through the front proxy: every request
// answers 200. With three instances and one (RollingUpdate), and with a
// volume (Recreate: never two instances at once).
func TestReleasesWithoutDowntime(t *testing.T) {
	demo := demoBinary(t)
	for _, tc := range []struct {
		name     string
		replicas int
		volume   bool
	}{
		{name: "three instances", replicas: 3},
		{name: "one instance", replicas: 1},
		{name: "volume", replicas: 1, volume: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hooks := &sinktest.HookReceiver{}
			hookSrv := httptest.NewServer(hooks)
			defer hookSrv.Close()
			dataDir := t.TempDir()
			port := sinktest.FreePort(t)
			volume := ""
			if tc.volume {
				volume = fmt.Sprintf("\n    volumes: [{name: data, path: %s/vol, capacity: 1Gi}]", dataDir)
			}
			cfg, err := app.ParseConfig(fmt.Appendf(nil, `
dataDir: %s
workloads:
  - name: web
    project: demo
    command: [%s, --listen, "127.0.0.1:${PORT}"]
    replicas: %d
    port: %d
    env: {GREETING: v1}
    gracePeriod: 5s
    probes:
      readiness: {http: {path: /ready}, periodSeconds: 1}%s
alerts:
  crashLoop: {restarts: 2, window: 10m}
notifications:
  integrations:
    - {name: hook, type: webhook, url: %q, secret: hook-secret, events: [deploy.*]}
`, dataDir, demo, tc.replicas, port, volume, hookSrv.URL), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			run := startRun(t, cfg, app.Options{})
			api := run.API
			svc := api + "/api/v1/services/demo/web"
			sinktest.WaitFor(t, 30*time.Second, "every instance ready", func() bool {
				s, ok := getService(svc)
				if !ok || len(s.Instances) != tc.replicas {
					return false
				}
				for _, in := range s.Instances {
					if !in.Ready {
						return false
					}
				}
				return true
			})
			if rels := releasesOf(t, api, "demo/web"); len(rels) != 1 || rels[0].Revision != 1 || rels[0].State != model.ReleaseSucceeded || rels[0].Trigger.Kind != model.TriggerConfig {
				t.Fatalf("history at start: %+v, want revision 1 succeeded by config", rels)
			}

			if tc.replicas == 3 {
				badRequests(t, api, demo)
			}

			// Never two instances on a volume: watch every instance with a
			// process for the whole test.
			watchCtx, stopWatch := context.WithCancel(context.Background())
			var watched sync.WaitGroup
			var most int
			if tc.volume {
				watched.Go(func() {
					for watchCtx.Err() == nil {
						if s, ok := getService(svc); ok {
							n := 0
							for _, in := range s.Instances {
								if in.PID != 0 {
									n++
								}
							}
							most = max(most, n)
						}
						time.Sleep(20 * time.Millisecond)
					}
				})
			}

			loadCtx, stopLoad := context.WithTimeout(context.Background(), 3*time.Minute)
			defer stopLoad()
			loaded := make(chan loadgen.Result, 1)
			go func() {
				loaded <- loadgen.Run(loadCtx, loadgen.Options{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), Rate: 100, Workers: 8, MaxRequests: 20000,
					// With Recreate, requests wait in the proxy while no
					// instance is ready (at most 30 s): through a failed
					// release, until its rollback is ready.
					Timeout: 35 * time.Second})
			}()

			// A new version rolls out.
			var dep struct{ Release model.Release }
			if code := postJSON(t, svc+"/deploy", map[string]any{"env": map[string]string{"GREETING": "v2"}, "version": "2.0"}, &dep); code != 202 {
				t.Fatalf("deploy: %d %+v", code, dep)
			}
			if dep.Release.Revision != 2 || dep.Release.State != model.ReleaseProgressing || dep.Release.Trigger.Kind != model.TriggerAPI {
				t.Fatalf("deploy answered %+v", dep.Release)
			}
			r2 := waitRelease(t, api, "demo/web", 2, model.ReleaseSucceeded, 60*time.Second)
			if r2.Progress.Updated != tc.replicas || r2.Progress.Old != 0 || r2.Spec.Env["GREETING"] != "v2" {
				t.Errorf("revision 2 finished with %+v, spec %+v", r2.Progress, r2.Spec)
			}

			// A release whose instances never get ready and crash is rolled
			// back by itself.
			broken := []string{demo, "--listen", "127.0.0.1:${PORT}", "--ready-after", "1h", "--exit-after", "300ms", "--exit-code", "3"}
			if code := postJSON(t, svc+"/deploy", map[string]any{"command": broken, "version": "3.0-broken"}, &dep); code != 202 {
				t.Fatalf("broken deploy: %d", code)
			}
			r3 := waitRelease(t, api, "demo/web", 3, model.ReleaseRolledBack, 90*time.Second)
			if !strings.Contains(r3.Reason, "crash-looping") {
				t.Errorf("revision 3 reason %q, want crash-looping", r3.Reason)
			}
			r4 := waitRelease(t, api, "demo/web", 4, model.ReleaseSucceeded, 60*time.Second)
			if r4.Trigger.Kind != model.TriggerAutoRollback || r4.RollbackOf != 2 || r4.Spec.Env["GREETING"] != "v2" {
				t.Errorf("revision 4: %+v, want an automatic rollback to revision 2", r4)
			}

			// Back to the first revision by hand.
			if code := postJSON(t, svc+"/rollback", map[string]any{"revision": 1}, &dep); code != 202 {
				t.Fatalf("rollback: %d", code)
			}
			r5 := waitRelease(t, api, "demo/web", 5, model.ReleaseSucceeded, 60*time.Second)
			if r5.Trigger.Kind != model.TriggerRollback || r5.Trigger.By != "loopback" || r5.Spec.Env["GREETING"] != "v1" {
				t.Errorf("revision 5: %+v, want a rollback to revision 1 by loopback", r5)
			}
			want := "v1"
			superseded := 0
			if tc.replicas == 1 && !tc.volume {
				// A deploy while one is in progress supersedes it.
				slow := []string{demo, "--listen", "127.0.0.1:${PORT}", "--ready-after", "1h"}
				if code := postJSON(t, svc+"/deploy", map[string]any{"command": slow, "version": "6-slow"}, &dep); code != 202 {
					t.Fatalf("slow deploy: %d", code)
				}
				if code := postJSON(t, svc+"/deploy", map[string]any{"command": []string{demo, "--listen", "127.0.0.1:${PORT}"}, "env": map[string]string{"GREETING": "v7"}}, &dep); code != 202 {
					t.Fatalf("second deploy: %d", code)
				}
				waitRelease(t, api, "demo/web", 7, model.ReleaseSucceeded, 60*time.Second)
				if r6 := releasesOf(t, api, "demo/web")[1]; r6.Revision != 6 || r6.State != model.ReleaseSuperseded {
					t.Errorf("revision 6 after revision 7: %+v, want superseded", r6)
				}
				want, superseded = "v7", 1
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), want) {
				t.Errorf("the service answers %q, want the %s greeting", body, want)
			}

			stopLoad()
			res := <-loaded
			stopWatch()
			watched.Wait()
			t.Logf("%d requests at %.0f/s, %d failed, p50 %s p99 %s", res.Sent, res.RPS(), res.Failed, res.Percentile(50), res.Percentile(99))
			if res.Failed != 0 {
				t.Errorf("%d of %d requests failed: %v %v, first: %v", res.Failed, res.Sent, res.Codes, res.Errors, res.FirstFailures)
			}
			minSent := 200
			if tc.volume {
				// Requests wait in the proxy through the failed release:
				// the stream slows to one per worker.
				minSent = 50
			}
			if res.Sent < minSent {
				t.Errorf("only %d requests were sent", res.Sent)
			}
			if tc.volume && most != 1 {
				t.Errorf("at most %d instances with a process at once on a volume, want 1", most)
			}

			// deploy.failed carried the reason and the failing instance's
			// last lines; the metrics count what happened.
			sinktest.WaitFor(t, 20*time.Second, "deploy.failed and deploy.rolled-back webhooks", func() bool {
				var failed, rolledBack bool
				for _, h := range hooks.Requests() {
					switch h.Event.Name {
					case model.EventDeployFailed:
						logs, _ := h.Event.Data["logs"].([]any)
						joined := fmt.Sprint(logs)
						if strings.Contains(fmt.Sprint(h.Event.Data["reason"]), "crash-looping") && strings.Contains(joined, "exiting with code 3") {
							failed = true
						}
					case model.EventDeployRolledBack:
						rolledBack = true
					}
				}
				return failed && rolledBack
			})
			metrics := scrape(t, api)
			for _, want := range []string{
				fmt.Sprintf(`opshub_release_rollouts_total{project="demo",result="succeeded",service="web"} %d`, 3+superseded),
				`opshub_release_rollouts_total{project="demo",result="rolled_back",service="web"} 1`,
				fmt.Sprintf(`opshub_release_rollouts_total{project="demo",result="superseded",service="web"} %d`, superseded),
				`opshub_release_rollbacks_total{project="demo",service="web",trigger="auto"} 1`,
				`opshub_release_rollbacks_total{project="demo",service="web",trigger="manual"} 1`,
				`opshub_release_in_progress{project="demo",service="web"} 0`,
				fmt.Sprintf(`opshub_release_rollout_duration_seconds_count{project="demo",service="web"} %d`, 3+superseded),
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}

func scrape(t *testing.T, api string) string {
	t.Helper()
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// badRequests checks that mistakes are refused with the field at fault,
// before anything stops.
func badRequests(t *testing.T, api, demo string) {
	t.Helper()
	svc := api + "/api/v1/services/demo/web"
	before, _ := getService(svc)
	for _, tc := range []struct {
		name, path string
		body       any
		code       int
		field      string
	}{
		{"unknown service", api + "/api/v1/services/demo/nope/deploy", map[string]any{"version": "2"}, 404, "service"},
		{"image on the local platform", svc + "/deploy", map[string]any{"image": "web:2"}, 400, "image"},
		{"command not found", svc + "/deploy", map[string]any{"command": []string{"/no/such/program"}}, 400, "command"},
		{"empty change", svc + "/deploy", map[string]any{}, 400, ""},
		{"same spec", svc + "/deploy", map[string]any{"env": map[string]string{"GREETING": "v1"}}, 400, ""},
		{"unknown revision", svc + "/rollback", map[string]any{"revision": 42}, 404, "revision"},
	} {
		var e apiErr
		if code := postJSON(t, tc.path, tc.body, &e); code != tc.code || e.Field != tc.field || e.Error == "" {
			t.Errorf("%s: %d %+v, want %d naming %q", tc.name, code, e, tc.code, tc.field)
		}
	}
	after, _ := getService(svc)
	for i := range after.Instances {
		if after.Instances[i].Name != before.Instances[i].Name || after.Instances[i].PID != before.Instances[i].PID {
			t.Errorf("a refused request changed instance %d: %s → %s", i, before.Instances[i].Name, after.Instances[i].Name)
		}
	}
	if rels := releasesOf(t, api, "demo/web"); len(rels) != 1 {
		t.Errorf("refused requests made releases: %+v", rels)
	}
}

// TestRunningReleaseWinsOverTheConfig: a deploy survives a restart with the
// same config file; a config reload that changes the env rolls out as a
// release triggered by config, which a restart keeps too.
func TestRunningReleaseWinsOverTheConfig(t *testing.T) {
	demo := demoBinary(t)
	dir := t.TempDir()
	path := dir + "/opshub.yaml"
	port := sinktest.FreePort(t)
	write := func(greeting string) *config.Config {
		t.Helper()
		text := fmt.Sprintf(`dataDir: %s/data
workloads:
  - name: web
    project: demo
    command: [%s, --listen, "127.0.0.1:${PORT}"]
    port: %d
    env: {GREETING: %s}
    gracePeriod: 5s
`, dir, demo, port, greeting)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := app.LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	answers := func(want string) {
		t.Helper()
		waitForAnswer(t, port, want)
	}

	run := startRun(t, write("from-config"), app.Options{ConfigPath: path})
	answers("from-config")
	var dep struct{ Release model.Release }
	if code := postJSON(t, run.API+"/api/v1/services/demo/web/deploy", map[string]any{"env": map[string]string{"GREETING": "from-api"}}, &dep); code != 202 {
		t.Fatalf("deploy: %d", code)
	}
	waitRelease(t, run.API, "demo/web", 2, model.ReleaseSucceeded, 60*time.Second)
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}

	cfg, err := app.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	run = startRun(t, cfg, app.Options{ConfigPath: path})
	answers("from-api")
	if rels := releasesOf(t, run.API, "demo/web"); len(rels) != 2 {
		t.Fatalf("a restart with the same config made a release: %+v", rels)
	}

	write("reloaded")
	code, msg, res := postReload(t, run.API)
	if code != 200 || !res.Applied || !slices.Equal(res.Releases, []string{"demo/web revision 3"}) || len(res.RestartRequired) != 0 {
		t.Fatalf("reload: %d %q %+v", code, msg, res)
	}
	r3 := waitRelease(t, run.API, "demo/web", 3, model.ReleaseSucceeded, 60*time.Second)
	if r3.Trigger.Kind != model.TriggerConfig {
		t.Errorf("revision 3 triggered by %q, want config", r3.Trigger.Kind)
	}
	answers("reloaded")
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	if cfg, err = app.LoadConfig(path); err != nil {
		t.Fatal(err)
	}
	run = startRun(t, cfg, app.Options{ConfigPath: path})
	answers("reloaded")
	if rels := releasesOf(t, run.API, "demo/web"); len(rels) != 3 {
		t.Fatalf("after the restart: %+v", rels)
	}
}

// waitForAnswer waits up to 30 s until http://127.0.0.1:port/ answers 200
// with a body holding want.
func waitForAnswer(t *testing.T, port int, want string) {
	t.Helper()
	sinktest.WaitFor(t, 30*time.Second, fmt.Sprintf("port %d to answer %s", port, want), func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200 && strings.Contains(string(body), want)
	})
}
