package app_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opshub/opshub/config"
	"github.com/opshub/opshub/internal/app"
	"github.com/opshub/opshub/internal/loadgen"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// instanceEnv reads the environment of every instance of a service from
// /proc: what the processes really got.
func instanceEnv(t *testing.T, api, svc string) []map[string]string {
	t.Helper()
	s, ok := getService(api + "/api/v1/services/" + svc)
	if !ok {
		t.Fatalf("GET %s failed", svc)
	}
	var out []map[string]string
	for _, in := range s.Instances {
		if in.PID == 0 {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", in.PID))
		if err != nil {
			continue // it just ended
		}
		env := map[string]string{}
		for _, kv := range strings.Split(string(raw), "\x00") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
		out = append(out, env)
	}
	return out
}

// pids lists the processes of a service's instances.
func pids(api, svc string) []int {
	s, _ := getService(api + "/api/v1/services/" + svc)
	var out []int
	for _, in := range s.Instances {
		out = append(out, in.PID)
	}
	slices.Sort(out)
	return out
}

func envOf(t *testing.T, api, svc string) []model.EnvVar {
	t.Helper()
	var body struct{ Env []model.EnvVar }
	if code, err := getJSON(api+"/api/v1/services/"+svc+"/env", &body); code != 200 || err != nil {
		t.Fatalf("GET %s/env: %d %v", svc, code, err)
	}
	return body.Env
}

// TestGroupChangesRollExactlyTheAffectedServices runs three services that
// share groups and reloads the config four times while requests go to two
// of them: a new secret value rolls only the service its group selects; two
// groups of one priority setting one key are refused, changing nothing; a
// wider selector rolls only the service it adds; a priority change that
// changes no variable rolls nothing. Not one request fails. Then a rollback
// restores the old secret value, and after a restart (which forgets it) the
// config's value comes back as a release.
func TestGroupChangesRollExactlyTheAffectedServices(t *testing.T) {
	demo := demoBinary(t)
	dir := t.TempDir()
	path := dir + "/opshub.yaml"
	webPort, adminPort, shopPort := sinktest.FreePort(t), sinktest.FreePort(t), sinktest.FreePort(t)
	write := func(password, greetingProjects string, webPriority int) *config.Config {
		t.Helper()
		svc := func(name, project string, port int, replicas int, tags string) string {
			return fmt.Sprintf(`
  - name: %s
    project: %s
    command: [%s, --listen, "127.0.0.1:${PORT}"]
    replicas: %d
    port: %d
    tags: [%s]
    gracePeriod: 5s
    strategy: {minReadySeconds: 1}
    probes:
      readiness: {http: {path: /ready}, periodSeconds: 1}`, name, project, demo, replicas, port, tags)
		}
		text := fmt.Sprintf(`dataDir: %s/data
workloads:%s%s%s
groups:
  - {name: db, kind: secret, priority: 10, selector: {projects: [demo], tags: [api]}, data: {DB_PASSWORD: %q}}
  - {name: greeting, kind: config, selector: {projects: [%s]}, data: {GREETING: hello}}
  - {name: web-greeting, kind: config, priority: %d, selector: {services: [web]}, data: {GREETING: web-hello}}
`, dir, svc("web", "demo", webPort, 2, "api"), svc("admin", "demo", adminPort, 1, "internal"), svc("shop", "shop", shopPort, 1, "api"),
			password, greetingProjects, webPriority)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := app.LoadConfig(path)
		if err != nil {
			return nil
		}
		return cfg
	}
	answers := func(port int, want string) {
		t.Helper()
		waitForAnswer(t, port, want)
	}
	passwords := func(api, svc string) []string {
		var out []string
		for _, env := range instanceEnv(t, api, svc) {
			out = append(out, env["DB_PASSWORD"])
		}
		slices.Sort(out)
		return slices.Compact(out)
	}

	run := startRun(t, write("first-password-1a", "demo", 5), app.Options{ConfigPath: path})
	api := run.API
	answers(webPort, "web-hello")
	answers(adminPort, "hello")
	answers(shopPort, "hi")
	if got := passwords(api, "demo/web"); !slices.Equal(got, []string{"first-password-1a"}) {
		t.Fatalf("web's instances have DB_PASSWORD %q", got)
	}
	if got := passwords(api, "demo/admin"); !slices.Equal(got, []string{""}) {
		t.Fatalf("admin (tag internal) has DB_PASSWORD %q; group db selects tag api", got)
	}
	want := []model.EnvVar{
		{Name: "DB_PASSWORD", Value: "<secret>", Source: "group db"},
		{Name: "GREETING", Value: "web-hello", Source: "group web-greeting"},
	}
	if got := envOf(t, api, "demo/web"); !slices.Equal(got, want) {
		t.Errorf("GET demo/web/env = %+v, want %+v", got, want)
	}

	adminPIDs, shopPIDs := pids(api, "demo/admin"), pids(api, "shop/shop")
	loadCtx, stopLoad := context.WithTimeout(context.Background(), 4*time.Minute)
	defer stopLoad()
	results := make(chan loadgen.Result, 2)
	for _, port := range []int{webPort, adminPort} {
		go func() {
			results <- loadgen.Run(loadCtx, loadgen.Options{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), Rate: 100, Workers: 4, MaxRequests: 20000, Timeout: 35 * time.Second})
		}()
	}

	// A new secret value: only web (project demo, tag api) rolls.
	write("second-password-2b", "demo", 5)
	code, msg, res := postReload(t, api)
	if code != 200 || !res.Applied || !slices.Equal(res.Releases, []string{"demo/web revision 2"}) || len(res.RestartRequired) != 0 {
		t.Fatalf("reload of the secret: %d %q %+v", code, msg, res)
	}
	r2 := waitRelease(t, api, "demo/web", 2, model.ReleaseSucceeded, 90*time.Second)
	if r2.Trigger.Kind != model.TriggerConfig || r2.Reason != "config file changed: group db" {
		t.Errorf("revision 2: trigger %q, reason %q; want config, naming group db", r2.Trigger.Kind, r2.Reason)
	}
	sinktest.WaitFor(t, 30*time.Second, "web's instances to have the new password", func() bool {
		return slices.Equal(passwords(api, "demo/web"), []string{"second-password-2b"})
	})
	rels := releasesOf(t, api, "demo/web")
	if v1, v2 := rels[1].Spec.Env["DB_PASSWORD"], rels[0].Spec.Env["DB_PASSWORD"]; !strings.HasPrefix(v1, "<secret:") || !strings.HasPrefix(v2, "<secret:") || v1 == v2 {
		t.Errorf("the history shows DB_PASSWORD as %q then %q; want two different hashes", v1, v2)
	}

	// Two groups of one priority setting GREETING for web: refused whole.
	write("third-password-3c", "demo", 0)
	code, msg, res = postReload(t, api)
	if code == 200 || res.Applied || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Message, `both group "greeting" (line `) || !strings.Contains(res.Errors[0].Message, `and group "web-greeting" for workload demo/web`) {
		t.Fatalf("a tie was not refused naming both groups: %d %q %+v", code, msg, res)
	}

	// A wider selector: only shop gets GREETING.
	write("second-password-2b", "demo, shop", 5)
	code, msg, res = postReload(t, api)
	if code != 200 || !slices.Equal(res.Releases, []string{"shop/shop revision 2"}) {
		t.Fatalf("reload of the selector: %d %q %+v", code, msg, res)
	}
	r := waitRelease(t, api, "shop/shop", 2, model.ReleaseSucceeded, 90*time.Second)
	if r.Reason != "config file changed: group greeting" {
		t.Errorf("shop revision 2 reason %q", r.Reason)
	}
	answers(shopPort, "hello")

	// A priority that changes no variable: nothing rolls.
	write("second-password-2b", "demo, shop", 20)
	if code, msg, res = postReload(t, api); code != 200 || len(res.Releases) != 0 {
		t.Fatalf("reload of a priority that changes nothing: %d %q %+v", code, msg, res)
	}

	stopLoad()
	for range 2 {
		res := <-results
		t.Logf("%d requests at %.0f/s, %d failed", res.Sent, res.RPS(), res.Failed)
		if res.Failed != 0 || res.Sent < 200 {
			t.Errorf("%d of %d requests failed: %v %v", res.Failed, res.Sent, res.Codes, res.FirstFailures)
		}
	}
	if got := pids(api, "demo/admin"); !slices.Equal(got, adminPIDs) {
		t.Errorf("admin's processes changed from %v to %v; no group change was about it", adminPIDs, got)
	}
	if got := releasesOf(t, api, "demo/admin"); len(got) != 1 {
		t.Errorf("admin has %d releases, want 1", len(got))
	}
	if got := pids(api, "shop/shop"); slices.Equal(got, shopPIDs) {
		t.Errorf("shop's process did not change")
	}

	// Back to revision 1: the first password, seen since opshub started.
	var rb struct{ Release model.Release }
	if code := postJSON(t, api+"/api/v1/services/demo/web/rollback", map[string]any{"revision": 1}, &rb); code != 202 {
		t.Fatalf("rollback: %d %+v", code, rb)
	}
	waitRelease(t, api, "demo/web", 3, model.ReleaseSucceeded, 90*time.Second)
	sinktest.WaitFor(t, 30*time.Second, "web's instances to have the first password again", func() bool {
		return slices.Equal(passwords(api, "demo/web"), []string{"first-password-1a"})
	})

	// A restart forgets the first password: the config's comes back, as a
	// release that says why.
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}
	run = startRun(t, write("second-password-2b", "demo, shop", 20), app.Options{ConfigPath: path})
	r4 := waitRelease(t, run.API, "demo/web", 4, model.ReleaseSucceeded, 90*time.Second)
	if r4.Trigger.Kind != model.TriggerConfig || !strings.Contains(r4.Reason, "DB_PASSWORD (group db) is no longer known") {
		t.Errorf("revision 4 after the restart: %q %q", r4.Trigger.Kind, r4.Reason)
	}
	sinktest.WaitFor(t, 30*time.Second, "web's instances to have the config's password", func() bool {
		return slices.Equal(passwords(run.API, "demo/web"), []string{"second-password-2b"})
	})
	var body struct{ Error, Field string }
	if code := postJSON(t, run.API+"/api/v1/services/demo/web/rollback", map[string]any{"revision": 3}, &body); code != 409 || body.Field != "revision" || !strings.Contains(body.Error, "DB_PASSWORD (group db)") {
		t.Errorf("rollback to a forgotten secret: %d %+v, want 409 naming DB_PASSWORD", code, body)
	}
}
