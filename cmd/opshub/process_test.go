package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

// binaries builds bin/opshub and bin/opshub-demo once, so the tests run
// the real binaries as a user does.
var binaries = sinktest.OpshubBinaries

var waitUntil = sinktest.WaitFor

// opshubProcess is `opshub run` started as a child process.
type opshubProcess struct {
	*sinktest.Opshub
	api string
}

// startOpshub runs `opshub run -c cfgPath` and waits until it is ready on
// api (host:port).
func startOpshub(t *testing.T, cfgPath, api string) *opshubProcess {
	t.Helper()
	p := &opshubProcess{Opshub: sinktest.StartOpshub(t, []string{"run", "-c", cfgPath}), api: "http://" + api}
	p.WaitReady(t, p.api, 30*time.Second)
	return p
}

// runningPIDs waits until every instance of every service runs, and returns
// their process IDs.
func (p *opshubProcess) runningPIDs(t *testing.T, want int) []int {
	t.Helper()
	var pids []int
	waitUntil(t, 20*time.Second, fmt.Sprintf("%d running instances", want), func() bool {
		resp, err := http.Get(p.api + "/api/v1/services")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct{ Services []model.Service }
		if json.NewDecoder(resp.Body).Decode(&body) != nil {
			return false
		}
		pids = pids[:0]
		for _, s := range body.Services {
			for _, in := range s.Instances {
				if in.Status == model.StatusRunning && in.PID > 0 {
					pids = append(pids, in.PID)
				}
			}
		}
		return len(pids) == want
	})
	return pids
}

// alive reports whether pid runs. A zombie (exited, not yet reaped by its
// new parent after opshub died) counts as gone.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func writeConfig(t *testing.T, bin, dataDir, api string, extraArgs string) string {
	t.Helper()
	return configFile(t, t.TempDir(), demoConfig(dataDir, api, bin, extraArgs, sinktest.FreePort(t), ""))
}

// demoConfig is a config of one service, demo/web: two instances of bin's
// opshub-demo (args added to its command line) on port, given 2 s to stop;
// more adds keys to the workload, each line indented by four spaces.
func demoConfig(dataDir, api, bin, args string, port int, more string) string {
	return fmt.Sprintf(`dataDir: %s
server: {listen: %q}
workloads:
  - name: web
    project: demo
    command: [%s/opshub-demo, --listen, "127.0.0.1:${PORT}"%s]
    replicas: 2
    port: %d
    gracePeriod: 2s
`, dataDir, api, bin, args, port) + more
}

// configFile writes cfg to opshub.yaml in dir and returns its path.
func configFile(t *testing.T, dir, cfg string) string {
	t.Helper()
	path := filepath.Join(dir, "opshub.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSIGTERMStopsEveryChildWithinTheGracePeriod(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	api := sinktest.FreeAddr(t)
	// The instances ignore SIGTERM, so opshub must escalate to SIGKILL after
	// the 2 s grace period.
	cfg := writeConfig(t, bin, t.TempDir(), api, `, --ignore-sigterm`)
	p := startOpshub(t, cfg, api)
	pids := p.runningPIDs(t, 2)

	start := time.Now()
	p.Signal(t, syscall.SIGTERM)
	if err := p.Wait(t, 10*time.Second); err != nil {
		t.Fatalf("opshub exited with %v after SIGTERM, want status 0", err)
	}
	took := time.Since(start)
	if took > 2*time.Second+3*time.Second {
		t.Errorf("stopping took %s, want about the 2s grace period", took)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("instance process %d survived opshub's exit", pid)
		}
	}
}

func TestNextStartStopsOrphansOfAKilledOpshub(t *testing.T) {
	bin, err := binaries()
	if err != nil {
		t.Fatal(err)
	}
	api := sinktest.FreeAddr(t)
	dataDir := t.TempDir()
	cfg := writeConfig(t, bin, dataDir, api, "")
	first := startOpshub(t, cfg, api)
	orphans := first.runningPIDs(t, 2)

	first.Signal(t, syscall.SIGKILL)
	_ = first.Wait(t, 10*time.Second)
	for _, pid := range orphans {
		if !alive(pid) {
			t.Fatalf("instance %d died with opshub; the test needs it orphaned", pid)
		}
	}
	t.Cleanup(func() {
		for _, pid := range orphans {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	second := startOpshub(t, cfg, api)
	fresh := second.runningPIDs(t, 2)
	for _, pid := range orphans {
		if alive(pid) {
			t.Errorf("orphan %d of the killed opshub still runs after the next start", pid)
		}
		for _, f := range fresh {
			if f == pid {
				t.Errorf("new instance reuses orphan pid %d", pid)
			}
		}
	}
}
