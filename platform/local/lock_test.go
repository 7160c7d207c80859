package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "local")
	os.MkdirAll(state, 0o755)
	first, err := lockDataDir(state)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(state)
	if err == nil {
		t.Fatal("second lock taken")
	}
	for _, want := range []string{dir, "in use by another opshub", "pid " + itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if err := first.release(); err != nil {
		t.Fatal(err)
	}
	again, err := lockDataDir(state)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.release()
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
