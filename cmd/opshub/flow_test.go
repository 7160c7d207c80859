package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
)

// TestFlowRunsSurviveSIGKILL runs the real binary: `opshub flow run -w`
// follows a run step by step, a run that was running when opshub was
// killed with SIGKILL is failed as interrupted on the next start (and its
// command's processes are stopped), and a queued run still runs.
func TestFlowRunsSurviveSIGKILL(t *testing.T) {
	api := sinktest.FreeAddr(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`dataDir: %[1]s/data
server: {listen: %[2]q}
release:
  flows:
    - name: quick
      steps:
        - {name: one, run: {command: [/bin/sh, -c, 'echo one ${ARG_V}']}}
        - {name: two, run: {command: [/bin/sh, -c, 'echo two; exit 4']}, needs: [one]}
    - name: slow
      concurrency: queue
      steps:
        - {name: wait, run: {command: [/bin/sh, -c, 'echo $$ > %[1]s/pid-${ARG_N}; sleep 60']}}
`, dir, api)
	cfgPath := configFile(t, dir, cfg)
	first := startOpshub(t, cfgPath, api)

	code, out, errOut := runCLI(t, "--server", first.api, "flow", "run", "quick", "--arg", "v=7", "-w")
	if code != exitFailure || !strings.Contains(out, "one                  succeeded") || !strings.Contains(out, "two                  failed: exited with code 4") ||
		!strings.Contains(out, "failed: step two failed") {
		t.Errorf("flow run -w of a failing flow: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "--server", first.api, "flow", "runs", "quick")
	if code != 0 || !strings.Contains(out, "failed") || !strings.Contains(out, "api by loopback") {
		t.Errorf("flow runs: exit %d\n%s", code, out)
	}

	code, out, errOut = runCLI(t, "--server", first.api, "flow", "run", "slow", "--arg", "n=1")
	if code != 0 || !strings.Contains(out, "running") {
		t.Fatalf("flow run slow: exit %d\n%s%s", code, out, errOut)
	}
	running := strings.Fields(out)[1]
	code, out, _ = runCLI(t, "--server", first.api, "flow", "run", "slow", "--arg", "n=2")
	if code != 0 || !strings.Contains(out, "queued") {
		t.Fatalf("second run of a queue flow: exit %d\n%s", code, out)
	}
	queued := strings.Fields(out)[1]
	var pid int
	// The command's process group is in the runtime's state file once
	// it has started, as instances' are.
	sinktest.WaitFor(t, 30*time.Second, "the first run's command to start", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "pid-1"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		state, _ := os.ReadFile(filepath.Join(dir, "data", "local", "state.json"))
		return err == nil && pid > 0 && strings.Contains(string(state), fmt.Sprintf(`"pgid": %d`, pid))
	})
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	first.Signal(t, syscall.SIGKILL)
	_ = first.Wait(t, 10*time.Second)

	second := startOpshub(t, cfgPath, api)
	code, out, _ = runCLI(t, "--server", second.api, "flow", "status", running)
	if code != 0 || !strings.Contains(out, "state:    failed") || !strings.Contains(out, "interrupted") {
		t.Errorf("the run killed with opshub: exit %d\n%s", code, out)
	}
	sinktest.WaitFor(t, 30*time.Second, "the killed run's command to be stopped", func() bool { return !alive(pid) })
	sinktest.WaitFor(t, 30*time.Second, "the queued run to run", func() bool {
		_, err := os.Stat(filepath.Join(dir, "pid-2"))
		return err == nil
	})
	code, out, _ = runCLI(t, "--server", second.api, "flow", "cancel", queued)
	if code != 0 || !strings.Contains(out, "cancelled") {
		t.Errorf("flow cancel: exit %d\n%s", code, out)
	}
}
