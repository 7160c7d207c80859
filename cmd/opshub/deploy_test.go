package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`./bin/api --workers 4`, []string{"./bin/api", "--workers", "4"}},
		{`prog 'a b' "c \"d\" $x" e\ f`, []string{"prog", "a b", `c "d" $x`, "e f"}},
		{`  prog   ''  `, []string{"prog", ""}},
	} {
		got, err := splitWords(tc.in)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) || len(got) != len(tc.want) {
			t.Errorf("splitWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := splitWords(`prog 'open`); err == nil {
		t.Error("an unterminated quote is accepted")
	}
}

// TestSIGKILLDuringARolloutResumesIt deploys with the CLI, kills opshub
// with SIGKILL in the middle of the rollout, and starts it again: the
// release is still in the history, no instance of the killed opshub is left,
// the rollout goes on to succeed, and the service answers with the new
// release.
func TestSIGKILLDuringARolloutResumesIt(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	api := sinktest.FreeAddr(t)
	dataDir := t.TempDir()
	port := sinktest.FreePort(t)
	cfg := demoConfig(dataDir, api, bin, "", port, `    env: {GREETING: v1}
    probes:
      readiness: {http: {path: /ready}, periodSeconds: 1}
`)
	cfgPath := configFile(t, t.TempDir(), cfg)
	first := startOpshub(t, cfgPath, api)
	old := first.runningPIDs(t, 2)

	// The new release takes 15 s to get ready: the rollout is still going
	// when opshub is killed.
	code, out, errOut := runCLI(t, "--server", first.api, "deploy", "web", "--env", "GREETING=v2", "--env", "EXTRA-",
		"--command", bin+`/opshub-demo --listen 127.0.0.1:${PORT} --ready-after 15s`, "--version", "2.0", "--wait=false")
	if code != 0 || !strings.Contains(out, "demo/web: revision 2 started (api)") {
		t.Fatalf("deploy: exit %d\n%s%s", code, out, errOut)
	}
	// The two old instances and the new one that is not ready yet.
	var orphans []int
	sinktest.WaitFor(t, 30*time.Second, "a new instance beside the two old ones", func() bool {
		rels := releases(t, first.api)
		orphans = pids(t, first.api)
		return len(rels) == 2 && rels[0].State == model.ReleaseProgressing && len(orphans) >= 3
	})
	first.Signal(t, syscall.SIGKILL)
	_ = first.Wait(t, 10*time.Second)
	orphans = append(orphans, old...)
	t.Cleanup(func() {
		for _, pid := range orphans {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	second := startOpshub(t, cfgPath, api)
	if rels := releases(t, second.api); len(rels) != 2 || rels[0].Revision != 2 || rels[0].State == model.ReleaseFailed {
		t.Fatalf("history after the restart: %+v", rels)
	}
	// The CLI follows the resumed rollout to its end on a pipe, one line per step.
	code, out, errOut = runCLI(t, "--server", second.api, "releases", "web", "-o", "json")
	if code != 0 || !strings.Contains(out, `"revision": 2`) {
		t.Fatalf("releases -o json: %d\n%s%s", code, out, errOut)
	}
	sinktest.WaitFor(t, 120*time.Second, "revision 2 succeeded", func() bool {
		rels := releases(t, second.api)
		if rels[0].State != model.ReleaseProgressing && rels[0].State != model.ReleaseSucceeded {
			t.Fatalf("revision 2 ended %s: %s", rels[0].State, rels[0].Reason)
		}
		return rels[0].State == model.ReleaseSucceeded
	})
	for _, pid := range orphans {
		if alive(pid) {
			t.Errorf("process %d of the killed opshub still runs", pid)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "v2") {
		t.Errorf("the service answers %q, want the v2 greeting", body)
	}
	code, out, _ = runCLI(t, "--server", second.api, "status", "web")
	if code != 0 || !strings.Contains(out, "Release: revision 2 (api, version 2.0") {
		t.Errorf("status web: %d\n%s", code, out)
	}

	// A rollback from the CLI follows the rollout on a pipe and exits 0.
	code, out, errOut = runCLI(t, "--server", second.api, "rollback", "web", "--wait", "--timeout", "60s")
	if code != 0 || !strings.Contains(out, "revision 3 progressing") || !strings.Contains(out, "demo/web: revision 3 succeeded") {
		t.Errorf("rollback --wait: exit %d\n%s%s", code, out, errOut)
	}
}

func releases(t *testing.T, api string) []model.Release {
	t.Helper()
	resp, err := http.Get(api + "/api/v1/services/demo/web/releases")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Releases []model.Release }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Releases
}

// pids returns the process IDs of every instance that has a process.
func pids(t *testing.T, api string) []int {
	t.Helper()
	resp, err := http.Get(api + "/api/v1/services")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct{ Services []model.Service }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	var pids []int
	for _, s := range body.Services {
		for _, in := range s.Instances {
			if in.PID > 0 {
				pids = append(pids, in.PID)
			}
		}
	}
	return pids
}
