package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/internal/sinktest"
	"github.com/opshub/opshub/model"
)

func TestFindOrphans(t *testing.T) {
	rec := groupRecord{Instance: "web-abcd-0", PID: 100, PGID: 100, StartTime: 5000}
	tests := []struct {
		name  string
		procs []procStat
		want  []int // pids found; nil: the group is gone
		out   bool  // leader outside its group
	}{
		{"nothing runs", nil, nil, false},
		{
			"leader and child run",
			[]procStat{{PID: 100, State: 'S', PGRP: 100, StartTime: 5000}, {PID: 101, State: 'S', PGRP: 100, StartTime: 5001}},
			[]int{100, 101}, false,
		},
		{
			"leader gone, child remains",
			[]procStat{{PID: 101, State: 'S', PGRP: 100, StartTime: 5003}},
			[]int{101}, false,
		},
		{
			"pid reused by a stranger with a later start",
			[]procStat{{PID: 100, State: 'S', PGRP: 100, StartTime: 9000}, {PID: 120, State: 'S', PGRP: 100, StartTime: 9001}},
			nil, false,
		},
		{
			"group member older than the leader is not ours",
			[]procStat{{PID: 90, State: 'S', PGRP: 100, StartTime: 4000}},
			nil, false,
		},
		{
			"zombies are finished",
			[]procStat{{PID: 100, State: 'Z', PGRP: 100, StartTime: 5000}, {PID: 101, State: 'Z', PGRP: 100, StartTime: 5001}},
			nil, false,
		},
		{
			"leader that left its group is found too",
			[]procStat{{PID: 100, State: 'S', PGRP: 300, StartTime: 5000}, {PID: 101, State: 'S', PGRP: 100, StartTime: 5001}},
			[]int{100, 101}, true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findOrphans([]groupRecord{rec}, tc.procs)
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("found %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0].pids, tc.want) || got[0].leaderOutside != tc.out {
				t.Fatalf("found %+v, want pids %v leaderOutside %v", got, tc.want, tc.out)
			}
		})
	}
}

func TestFindOrphansNeverTargetsInit(t *testing.T) {
	recs := []groupRecord{{PID: 1, PGID: 1}, {PID: 0, PGID: 0}}
	procs := []procStat{{PID: 1, State: 'S', PGRP: 1}, {PID: 5, State: 'S', PGRP: 0}}
	if got := findOrphans(recs, procs); len(got) != 0 {
		t.Fatalf("found %+v", got)
	}
}

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
	sinktest.WaitFor(t, 15*time.Second, "the helper runtime's two instances", func() bool {
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
