package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/model"
)

// TestOrphansOfACrashedRuntimeAreStopped: a runtime that is SIGKILLed leaves
// its instances running; the next runtime on the same data dir finds them
// through state.json and stops them before it reports ready and starts its own.
func TestOrphansOfACrashedRuntimeAreStopped(t *testing.T) {
	dataDir := t.TempDir()
	helperLog, err := os.Create(filepath.Join(t.TempDir(), "helper.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer helperLog.Close()
	cmd := exec.Command(helperCommand()[0], helperCommand()[1:]...)
	cmd.Env = append(os.Environ(), helperEnv+"=runtime", "OPSHUB_LOCAL_TEST_DIR="+dataDir)
	cmd.Stdout, cmd.Stderr = helperLog, helperLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	// Wait until the helper recorded both instances with their children.
	var groups []groupRecord
	var members []int
	waitFor(t, 15*time.Second, "the helper runtime's two instances", func() bool {
		doc, err := readState(filepath.Join(dataDir, "local", "state.json"))
		if err != nil || len(doc.Groups) != 2 {
			return false
		}
		groups, members = doc.Groups, nil
		for _, g := range groups {
			m := groupMembers(t, g.PGID)
			if len(m) != 2 { // sh and its sleep
				return false
			}
			members = append(members, m...)
		}
		return true
	})
	for _, g := range groups {
		if g.PID != g.PGID || g.StartTime == 0 || g.Instance == "" {
			t.Errorf("recorded group %+v", g)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, pid := range members {
		if !alive(pid) {
			t.Fatalf("pid %d died with the runtime; nothing left to clean up", pid)
		}
	}

	h := start(t, Options{DataDir: dataDir}, Workload{Project: "orphans", Name: "sleeper", Command: []string{"/bin/sleep", "1000"}, Replicas: 1})
	for _, pid := range members {
		if alive(pid) {
			t.Errorf("pid %d left by the killed runtime still runs after start-up", pid)
		}
	}
	in := h.waitInstances("orphans", "sleeper", "the new instance", 10*time.Second, allStatus(1, model.StatusRunning))[0]
	for _, g := range groups {
		if in.UID == g.UID {
			t.Errorf("new instance reuses the uid %s of an old one", g.UID)
		}
	}
	doc, err := readState(filepath.Join(dataDir, "local", "state.json"))
	if err != nil || len(doc.Groups) != 1 || doc.Groups[0].PID != in.PID || doc.PID != os.Getpid() {
		t.Errorf("state after start-up: %+v, %v", doc, err)
	}
	h.stop()
	if doc, _ := readState(filepath.Join(dataDir, "local", "state.json")); len(doc.Groups) != 0 {
		t.Errorf("state after a clean stop still lists %+v", doc.Groups)
	}
}

// TestSecondRuntimeOnADataDirFails: the flock keeps a second runtime off a
// data dir in use, at once, naming the dir and the holder.
func TestSecondRuntimeOnADataDirFails(t *testing.T) {
	dataDir := t.TempDir()
	w := Workload{Project: "demo", Name: "web", Command: []string{"/bin/sleep", "1000"}, Replicas: 1}
	start(t, Options{DataDir: dataDir}, w)

	second := newHarness(t, Options{DataDir: dataDir}, w)
	began := time.Now()
	second.run()
	var err error
	select {
	case err = <-second.errc:
	case <-time.After(5 * time.Second):
		t.Fatal("second runtime did not fail")
	}
	second.cancel = nil // Run already returned
	if time.Since(began) > time.Second {
		t.Errorf("second runtime took %s to fail", time.Since(began))
	}
	if err == nil {
		t.Fatal("second runtime started")
	}
	for _, want := range []string{dataDir, "pid " + itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if s := second.service("demo", "web"); len(s.Instances) != 0 {
		t.Errorf("refused runtime started instances: %+v", s.Instances)
	}
}
