package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/client"
	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// outputs collects everything a run shows anyone, to search for secrets.
type outputs struct {
	mu  sync.Mutex
	all map[string]string
}

func (o *outputs) add(what, text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.all == nil {
		o.all = map[string]string{}
	}
	o.all[what] += text
}

// TestSecretGroupValuesAppearNowhere runs the opshub binary with a secret
// group whose values come from an environment variable, a *File key and an
// env file, a crash-looping service the group selects and a webhook for
// every event; it uses the CLI and the API with a read and an admin token,
// deploys, rolls back and reloads a changed secret. The instances get the
// values; the webhook, filtered on tag api, gets no event about the
// untagged crasher; no output holds a secret value: not check-config --print, the CLI, the
// API, opshub's own log, the notifications (crash reports with their log
// lines included), nor any file under dataDir (the state file keeps a hash).
func TestSecretGroupValuesAppearNowhere(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"env-group-secret-5150", "file-group-secret-7331", "envfile-group-secret-9001", "reloaded-group-secret-4242"}
	var out outputs
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		out.add("webhook bodies", string(b)+"\n")
		for k, v := range r.Header {
			out.add("webhook headers", k+": "+strings.Join(v, ",")+"\n")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	for name, content := range map[string]string{
		"db.pass":     secrets[1] + "\n",
		"db.env":      "# shared\nDB_USER=app\nDB_TOKEN=" + secrets[2] + "\n",
		"read.token":  "read-token-1",
		"admin.token": "admin-token-1",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	api := sinktest.FreeAddr(t)
	port := sinktest.FreePort(t)
	cfgPath := filepath.Join(dir, "opshub.yaml")
	writeConfig := func(secretVar string) {
		cfg := fmt.Sprintf(`dataDir: %s
server:
  listen: %q
  tokens:
    - {name: reader, tokenFile: %s/read.token, scopes: [read]}
    - {name: root, tokenFile: %s/admin.token, scopes: [admin]}
workloads:
  - name: web
    project: demo
    command: [%s/opshub-demo, --listen, "127.0.0.1:${PORT}"]
    replicas: 2
    port: %d
    tags: [api]
    gracePeriod: 2s
    probes:
      readiness: {http: {path: /ready}, periodSeconds: 1}
  - name: crasher
    project: demo
    command: [%s/opshub-demo, --listen, "127.0.0.1:${PORT}", --exit-after, 300ms, --exit-code, "3"]
    tags: [api]
  - name: plain
    project: demo
    command: [%s/opshub-demo, --listen, "127.0.0.1:${PORT}", --exit-after, 300ms, --exit-code, "4"]
  - name: migrate
    project: demo
    command: [%s/opshub-demo, --listen, "127.0.0.1:${PORT}", --exit-after, 200ms]
    restartPolicy: Never
    tags: [api]
groups:
  - name: db
    kind: secret
    priority: 10
    selector: {projects: [demo], tags: [api]}
    data: {DATABASE_URL: "postgres://app:${%s}@db/app", DB_PASSWORDFile: %s/db.pass}
    fromEnvFile: %s/db.env
  - name: settings
    kind: config
    selector: {projects: [demo]}
    data: {GREETING: hello}
alerts:
  throttle: {default: 0s}
notifications:
  integrations:
    - {name: hook, type: webhook, url: %q, tags: [api]}
`, dataDir, api, dir, dir, bin, port, bin, bin, bin, secretVar, dir, dir, hook.URL)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("GROUP_SECRET")

	// Without the variable, an error at its line; with it, the config.
	code, stdout, stderr := runCLI(t, "check-config", "--print", "-c", cfgPath)
	out.add("check-config --print", stdout+stderr)
	if code != 1 || !strings.Contains(stderr, "GROUP_SECRET") {
		t.Errorf("check-config without $GROUP_SECRET: %d\n%s", code, stderr)
	}
	t.Setenv("GROUP_SECRET", secrets[0]) // for check-config, run in-process
	code, stdout, stderr = runCLI(t, "check-config", "--print", "-c", cfgPath)
	out.add("check-config --print", stdout+stderr)
	if code != 0 || !strings.Contains(stdout, "DATABASE_URL: <secret>") || !strings.Contains(stdout, "GREETING: hello") {
		t.Fatalf("check-config --print: %d\n%s%s", code, stdout, stderr)
	}

	p := sinktest.StartOpshub(t, []string{"run", "-c", cfgPath}, "GROUP_SECRET="+secrets[0], "RELOADED_SECRET="+secrets[3])
	base := "http://" + api
	p.WaitReady(t, base, 30*time.Second)
	cli := func(token string, args ...string) (int, string) {
		t.Helper()
		code, stdout, stderr := runCLI(t, append([]string{"--server", base, "--token", token}, args...)...)
		out.add("opshub "+strings.Join(args, " "), stdout+stderr)
		return code, stdout + stderr
	}
	get := func(token, path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out.add("GET "+path, string(b))
		return string(b)
	}

	// The instances get every value.
	waitUntil(t, 30*time.Second, "web's instances with the group's values", func() bool {
		var body struct{ Services []model.Service }
		_ = json.Unmarshal([]byte(get("read-token-1", "/api/v1/services/demo/web")), &body)
		var pids []int
		for _, s := range body.Services {
			for _, in := range s.Instances {
				pids = append(pids, in.PID)
			}
		}
		for _, pid := range pids {
			env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
			for _, want := range []string{"DATABASE_URL=postgres://app:" + secrets[0] + "@db/app", "DB_PASSWORD=" + secrets[1], "DB_TOKEN=" + secrets[2], "GREETING=hello"} {
				if !strings.Contains(string(env), want+"\x00") {
					return false
				}
			}
		}
		return len(pids) >= 2
	})

	for _, token := range []string{"read-token-1", "admin-token-1"} {
		code, text := cli(token, "env", "web")
		var lines []string
		for _, l := range strings.Split(text, "\n") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
		for _, want := range []string{"DATABASE_URL <secret> group db", "DB_USER <secret> group db", "GREETING hello group settings"} {
			if code != 0 || !slices.Contains(lines, want) {
				t.Errorf("opshub env web with %s: exit %d, no line %q:\n%s", token, code, want, text)
			}
		}
		var env struct{ Env []model.EnvVar }
		body := get(token, "/api/v1/services/demo/web/env")
		if err := json.Unmarshal([]byte(body), &env); err != nil || !slices.Contains(env.Env, model.EnvVar{Name: "DB_PASSWORD", Value: "<secret>", Source: "group db"}) {
			t.Errorf("GET env with %s: %s", token, body)
		}
		cli(token, "env", "demo/web", "-o", "json")
		// A job gets its groups too, masked the same way.
		if code, text := cli(token, "env", "demo/migrate"); code != 0 || !strings.Contains(strings.Join(strings.Fields(text), " "), "DB_PASSWORD <secret> group db") {
			t.Errorf("opshub env demo/migrate: %d\n%s", code, text)
		}
	}

	// A deploy and a rollback through the CLI; the crasher's crash reports
	// reach the webhook with its last log lines.
	if code, text := cli("admin-token-1", "deploy", "web", "--env", "EXTRA=1", "--wait", "--timeout", "90s"); code != 0 {
		t.Fatalf("deploy: %d\n%s", code, text)
	}
	if code, text := cli("admin-token-1", "rollback", "web", "--wait", "--timeout", "90s"); code != 0 {
		t.Fatalf("rollback: %d\n%s", code, text)
	}
	waitUntil(t, 60*time.Second, "a crash report of the crasher at the webhook", func() bool {
		out.mu.Lock()
		defer out.mu.Unlock()
		return strings.Contains(out.all["webhook bodies"], `"event":"container.crash"`) && strings.Contains(out.all["webhook bodies"], "exiting with code 3")
	})

	// The hook filters on tag api: plain (no tags) crashes too, an alert
	// the API lists, but no notification of it reaches the hook.
	waitUntil(t, 60*time.Second, "plain's crash among the alerts", func() bool {
		var body struct{ Alerts []client.Alert }
		_ = json.Unmarshal([]byte(get("read-token-1", "/api/v1/alerts")), &body)
		return slices.ContainsFunc(body.Alerts, func(a client.Alert) bool { return a.Service == "plain" })
	})
	out.mu.Lock()
	bodies := out.all["webhook bodies"]
	out.mu.Unlock()
	if strings.Contains(bodies, `"service":"plain"`) || !strings.Contains(bodies, `"service":"crasher"`) {
		t.Error("the hook, filtered on tag api, got an event about plain, which has no tags, or none about crasher")
	}

	// A reload with a new secret value rolls web (and the crasher) out.
	writeConfig("RELOADED_SECRET")
	if code, text := cli("admin-token-1", "reload"); code != 0 || !strings.Contains(text, "demo/web revision 4") {
		t.Fatalf("reload: %d\n%s", code, text)
	}
	waitUntil(t, 90*time.Second, "web revision 4 succeeded", func() bool {
		rels := releasesWithToken(t, base, "admin-token-1")
		return len(rels) > 0 && rels[0].Revision == 4 && rels[0].State == model.ReleaseSucceeded
	})
	if rels := releasesWithToken(t, base, "read-token-1"); !strings.HasPrefix(rels[0].Spec.Env["DATABASE_URL"], "<secret:") || rels[0].Reason != "config file changed: group db" {
		t.Errorf("revision 4: DATABASE_URL %q, reason %q", rels[0].Spec.Env["DATABASE_URL"], rels[0].Reason)
	}

	for _, args := range [][]string{{"releases", "web"}, {"releases", "web", "-o", "json"}, {"status"}, {"status", "web"}, {"status", "crasher"}, {"alerts"}, {"deliveries"}} {
		cli("read-token-1", args...)
	}
	for _, path := range []string{"/api/v1/services", "/api/v1/services/demo/web", "/api/v1/services/demo/web/releases", "/api/v1/services/demo/crasher/releases",
		"/api/v1/services/demo/crasher/env", "/api/v1/alerts", "/api/v1/deliveries", "/metrics", "/api/v1/logs?project=demo&service=crasher&since=1h"} {
		get("admin-token-1", path)
	}
	p.Signal(t, syscall.SIGTERM)
	_ = p.Wait(t, 30*time.Second)
	out.add("opshub's own output", p.Output())
	files := 0
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		out.add("file "+strings.TrimPrefix(path, dataDir), string(b))
		return nil
	})
	if err != nil || files < 3 {
		t.Fatalf("read dataDir: %d files, %v", files, err)
	}

	for what, text := range out.all {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				i := strings.Index(text, s)
				t.Errorf("%s holds the secret %s: …%s…", what, s, text[max(0, i-80):min(len(text), i+len(s)+20)])
			}
		}
	}
	for _, must := range []string{"webhook bodies", "opshub env web", "GET /api/v1/services/demo/web/env", "file /state.db", "opshub's own output"} {
		if out.all[must] == "" {
			t.Errorf("no %s to search", must)
		}
	}
	t.Logf("searched %d outputs, %d files under dataDir", len(out.all), files)
}

func releasesWithToken(t *testing.T, base, token string) []model.Release {
	t.Helper()
	var body struct{ Releases []model.Release }
	req, _ := http.NewRequest("GET", base+"/api/v1/services/demo/web/releases", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Releases
}
