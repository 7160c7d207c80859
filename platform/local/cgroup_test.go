package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCgroupTree lays out a cgroup v2 mount with opshub in
// /user.slice/opshub.scope and returns the paths to detect it with.
func fakeCgroupTree(t *testing.T, controllers, subtree string) (cgroupPaths, string) {
	t.Helper()
	root := t.TempDir()
	mnt := filepath.Join(root, "sys fs", "cgroup") // a space, escaped in mountinfo
	own := filepath.Join(mnt, "user.slice", "opshub.scope")
	if err := os.MkdirAll(own, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(own, "cgroup.controllers"), controllers)
	write(t, filepath.Join(own, "cgroup.subtree_control"), subtree)
	escaped := strings.ReplaceAll(mnt, " ", `\040`)
	paths := cgroupPaths{MountInfo: filepath.Join(root, "mountinfo"), Self: filepath.Join(root, "cgroup")}
	write(t, paths.MountInfo, "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"+
		"31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"+
		"40 30 0:37 / "+escaped+" rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n")
	write(t, paths.Self, "4:memory:/elsewhere\n0::/user.slice/opshub.scope\n")
	return paths, own
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDetectCgroups(t *testing.T) {
	t.Run("controllers delegated and enabled", func(t *testing.T) {
		paths, own := fakeCgroupTree(t, "cpuset cpu io memory pids", "cpu memory")
		cg, reason := detectCgroups(paths)
		if cg == nil {
			t.Fatalf("not detected: %s", reason)
		}
		if cg.base != own {
			t.Errorf("base %q, want %q", cg.base, own)
		}
		if entries, _ := os.ReadDir(own); len(entries) != 2 {
			t.Errorf("the writability probe was left behind: %v", entries)
		}
	})
	t.Run("controllers available but not enabled for children", func(t *testing.T) {
		paths, own := fakeCgroupTree(t, "cpu io memory", "")
		if cg, reason := detectCgroups(paths); cg == nil {
			t.Fatalf("not detected: %s", reason)
		}
		if got := read(t, filepath.Join(own, "cgroup.subtree_control")); got != "+cpu +memory" {
			t.Errorf("subtree_control %q, want the controllers enabled", got)
		}
	})
	t.Run("controllers cannot be enabled", func(t *testing.T) {
		paths, own := fakeCgroupTree(t, "cpu memory", "")
		// A file that reads but refuses writes, even from root.
		os.Remove(filepath.Join(own, "cgroup.subtree_control"))
		if err := os.Symlink("/proc/version", filepath.Join(own, "cgroup.subtree_control")); err != nil {
			t.Fatal(err)
		}
		cg, reason := detectCgroups(paths)
		if cg != nil || !strings.Contains(reason, "enable cpu and memory for children") {
			t.Fatalf("got %v, %q; want a refusal to enable the controllers", cg, reason)
		}
	})
	for name, tc := range map[string]struct {
		change func(paths cgroupPaths, own string)
		reason string
	}{
		"no cgroup2 mount": {func(p cgroupPaths, _ string) {
			os.WriteFile(p.MountInfo, []byte("30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"), 0o644)
		}, "no cgroup v2 filesystem is mounted"},
		"no unified entry for opshub": {func(p cgroupPaths, _ string) {
			os.WriteFile(p.Self, []byte("4:memory:/x\n"), 0o644)
		}, "no cgroup v2 entry"},
		"hybrid layout without controllers": {func(_ cgroupPaths, own string) {
			os.WriteFile(filepath.Join(own, "cgroup.controllers"), nil, 0o644)
		}, "lacks the cpu, memory controller(s)"},
		"memory only": {func(_ cgroupPaths, own string) {
			os.WriteFile(filepath.Join(own, "cgroup.controllers"), []byte("memory pids\n"), 0o644)
		}, "lacks the cpu controller(s)"},
	} {
		t.Run(name, func(t *testing.T) {
			paths, own := fakeCgroupTree(t, "cpu memory", "cpu memory")
			tc.change(paths, own)
			cg, reason := detectCgroups(paths)
			if cg != nil || !strings.Contains(reason, tc.reason) {
				t.Fatalf("got %v, %q; want no cgroups because %q", cg, reason, tc.reason)
			}
		})
	}
}

func TestRunCgroup(t *testing.T) {
	paths, own := fakeCgroupTree(t, "cpu memory", "cpu memory")
	cg, reason := detectCgroups(paths)
	if cg == nil {
		t.Fatal(reason)
	}
	g, err := cg.create("uid-0", 500, 256<<20)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(own, "opshub-uid-0")
	if g.dir != dir || g.fd == nil {
		t.Fatalf("cgroup %q fd %v, want %q with an open fd", g.dir, g.fd, dir)
	}
	if got := read(t, filepath.Join(dir, "memory.max")); got != "268435456" {
		t.Errorf("memory.max %q", got)
	}
	if got := read(t, filepath.Join(dir, "cpu.max")); got != "50000 100000" {
		t.Errorf("cpu.max %q", got)
	}
	if g.oomKilled() {
		t.Error("OOM reported without memory.events")
	}
	write(t, filepath.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
	if g.oomKilled() {
		t.Error("OOM reported with oom_kill 0")
	}
	write(t, filepath.Join(dir, "memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n")
	if !g.oomKilled() {
		t.Error("oom_kill 1 not reported")
	}
	if err := g.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cgroup still there: %v", err)
	}
}

func TestCgroupLimitValues(t *testing.T) {
	for milli, want := range map[int64]string{0: "max 100000", 5: "1000 100000", 250: "25000 100000", 2000: "200000 100000"} {
		if got := cpuMax(milli); got != want {
			t.Errorf("cpuMax(%d) = %q, want %q", milli, got, want)
		}
	}
	if got := memoryMax(0); got != "max" {
		t.Errorf("memoryMax(0) = %q", got)
	}
}

// TestDetectCgroupsHere documents what this machine offers; it only checks
// that a refusal comes with a reason.
func TestDetectCgroupsHere(t *testing.T) {
	cg, reason := detectCgroups(defaultCgroupPaths)
	if cg == nil && reason == "" {
		t.Fatal("no cgroups and no reason")
	}
	t.Logf("cgroups: %v, reason: %q", cg != nil, reason)
}
