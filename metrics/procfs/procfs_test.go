package procfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opshub/opshub/metrics"
	"github.com/opshub/opshub/model"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    procStat
		wantErr bool
	}{
		{"plain", "100 (opshub-demo) S 1 100 100 0 -1 4194560 1 0 0 0 250 50 7 3 20 0 8 0 1 1 1",
			procStat{pgrp: 100, cpuTicks: 310}, false},
		{"command with spaces and parentheses", "101 (a) b (c) R 100 100 100 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 1 1 1",
			procStat{pgrp: 100, cpuTicks: 10}, false},
		{"truncated", "102 (x) R 1 2", procStat{}, true},
		{"no command", "garbage", procStat{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseStat = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestReadCgroupFixture(t *testing.T) {
	st, err := readCgroup(filepath.Join("testdata", "cgroup", "web-0"))
	if err != nil {
		t.Fatal(err)
	}
	want := cgroupStats{cpuSeconds: 12.5, memoryCurrent: 300 << 20, workingSet: 250 << 20, anon: 200 << 20,
		readBytes: 2 << 20, writeBytes: 4 << 20, hasIO: true}
	if st != want {
		t.Errorf("readCgroup = %+v\nwant %+v", st, want)
	}

	// Without io.stat (the io controller not enabled) the rest still reads.
	dir := t.TempDir()
	for _, f := range []string{"cpu.stat", "memory.current", "memory.stat"} {
		b, _ := os.ReadFile(filepath.Join("testdata", "cgroup", "web-0", f))
		writeFile(t, filepath.Join(dir, f), string(b))
	}
	st, err = readCgroup(dir)
	if err != nil || st.hasIO || st.cpuSeconds != 12.5 {
		t.Errorf("without io.stat: %+v, %v", st, err)
	}
	if _, err := readCgroup(t.TempDir()); err == nil || !strings.Contains(err.Error(), "cpu.stat") {
		t.Errorf("an empty directory read without an error naming cpu.stat: %v", err)
	}
}

type lister []model.Service

func (l lister) Services(context.Context) ([]model.Service, error) { return l, nil }

// fakeProc lays out a /proc with two instances: web-0 is a process group
// of two processes in opshub's own cgroup and network namespace; web-1 has
// a cgroup and a network namespace of its own.
func fakeProc(t *testing.T) (procRoot string) {
	t.Helper()
	root := t.TempDir()
	procRoot = filepath.Join(root, "proc")
	cg := filepath.Join(root, "cgroup")
	writeFile(t, filepath.Join(procRoot, "self", "cgroup"), "0::/opshub.service\n")
	writeFile(t, filepath.Join(procRoot, "self", "mountinfo"),
		fmt.Sprintf("30 25 0:26 / %s rw,nosuid - cgroup2 cgroup2 rw\n31 25 0:27 / /sys rw - sysfs sysfs rw\n", cg))
	symlink(t, "net:[4026531840]", filepath.Join(procRoot, "self", "ns", "net"))

	proc := func(pid, pgrp int, ticks [4]int, rssKB, residentPages int, cgroup, netns string) {
		dir := filepath.Join(procRoot, fmt.Sprint(pid))
		writeFile(t, filepath.Join(dir, "stat"), fmt.Sprintf("%d (opshub-demo) S 1 %d %d 0 -1 0 0 0 0 0 %d %d %d %d 20 0 1 0 1 1 1", pid, pgrp, pgrp, ticks[0], ticks[1], ticks[2], ticks[3]))
		writeFile(t, filepath.Join(dir, "statm"), fmt.Sprintf("9000 %d 300 1 0 500 0\n", residentPages))
		writeFile(t, filepath.Join(dir, "status"), fmt.Sprintf("Name:\topshub-demo\nVmRSS:\t%d kB\nRssAnon:\t%d kB\nRssFile:\t100 kB\nRssShmem:\t0 kB\n", rssKB+100, rssKB))
		writeFile(t, filepath.Join(dir, "io"), "rchar: 5000\nwchar: 6000\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n")
		writeFile(t, filepath.Join(dir, "cgroup"), "0::"+cgroup+"\n")
		symlink(t, netns, filepath.Join(dir, "ns", "net"))
		writeFile(t, filepath.Join(dir, "net", "dev"), "Inter-|   Receive                                                |  Transmit\n"+
			" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"+
			"    lo:   9999      10    0    0    0     0          0         0     9999      10    0    0    0     0       0          0\n"+
			"  eth0: 123456     100    0    0    0     0          0         0    654321     200    0    0    0     0       0          0\n")
	}
	proc(100, 100, [4]int{300, 100, 50, 50}, 1024, 1000, "/opshub.service", "net:[4026531840]")
	proc(101, 100, [4]int{100, 0, 0, 0}, 2048, 500, "/opshub.service", "net:[4026531840]")
	proc(200, 200, [4]int{1, 1, 0, 0}, 10, 10, "/opshub.service/opshub-web-1", "net:[4026532000]")
	proc(300, 300, [4]int{1, 1, 0, 0}, 10, 10, "/", "net:[4026531840]") // not ours
	for _, f := range []string{"cpu.stat", "memory.current", "memory.stat", "io.stat"} {
		b, err := os.ReadFile(filepath.Join("testdata", "cgroup", "web-0", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(cg, "opshub.service", "opshub-web-1", f), string(b))
	}
	return procRoot
}

func TestSourceReadsGroupsAndCgroups(t *testing.T) {
	procRoot := fakeProc(t)
	started := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	svcs := lister{{Project: "demo", Name: "web", Instances: []model.Instance{
		{Name: "web-0", Container: "web", PID: 100, Restarts: 2, StartedAt: started},
		{Name: "web-1", Container: "web", PID: 200, StartedAt: started},
		{Name: "web-2", Container: "web", PID: 0}, // in back-off: not running
	}}}
	volDir := t.TempDir()
	writeFile(t, filepath.Join(volDir, "a.dat"), strings.Repeat("x", 8192))
	writeFile(t, filepath.Join(volDir, "sub", "b.dat"), strings.Repeat("y", 4096))
	src := New(svcs, Options{ProcRoot: procRoot, Specs: map[model.Ref]Spec{
		{Project: "demo", Service: "web"}: {CPU: 0.5, Memory: 512 << 20, Volumes: []Volume{
			{Name: "data", Path: volDir, Capacity: 1 << 30},
			{Name: "later", Path: filepath.Join(volDir, "missing"), Capacity: 1 << 20},
		}},
	}})
	now := started.Add(time.Hour)
	got, err := src.Read(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d readings, want web-0, web-1 and the service's volumes: %+v", len(got), got)
	}
	page := float64(os.Getpagesize())
	web0, web1, vols := got[0], got[1], got[2]
	checks := []struct {
		name string
		got  metrics.Value
		want metrics.Value
	}{
		{"web-0 cpu: both processes, with reaped children", web0.CPUSeconds, metrics.Known(6)},
		{"web-0 working set: resident pages", web0.MemoryWorkingSet, metrics.Known(1500 * page)},
		{"web-0 rss: anonymous", web0.MemoryRSS, metrics.Known(3072 * 1024)},
		{"web-0 disk read", web0.DiskReadBytes, metrics.Known(8192)},
		{"web-0 disk write", web0.DiskWriteBytes, metrics.Known(16384)},
		{"web-0 network: host namespace, not attributable", web0.NetworkRxBytes, metrics.Value{}},
		{"web-0 restarts", web0.Restarts, metrics.Known(2)},
		{"web-0 cpu limit", web0.CPULimit, metrics.Known(0.5)},
		{"web-0 memory limit", web0.MemoryLimit, metrics.Known(512 << 20)},
		{"web-1 cpu: its cgroup", web1.CPUSeconds, metrics.Known(12.5)},
		{"web-1 working set: usage minus inactive file", web1.MemoryWorkingSet, metrics.Known(250 << 20)},
		{"web-1 rss: anon", web1.MemoryRSS, metrics.Known(200 << 20)},
		{"web-1 disk write: io.stat", web1.DiskWriteBytes, metrics.Known(4 << 20)},
		{"web-1 network rx: own namespace, without loopback", web1.NetworkRxBytes, metrics.Known(123456)},
		{"web-1 network tx", web1.NetworkTxBytes, metrics.Known(654321)},
		{"volume used: blocks of both files", vols.Volumes[0].Used, metrics.Known(float64(diskUsage(t, volDir)))},
		{"volume inodes: the root, a subdirectory and two files", vols.Volumes[0].Inodes, metrics.Known(4)},
		{"volume capacity", vols.Volumes[0].Capacity, metrics.Known(1 << 30)},
		{"a volume not created yet uses nothing", vols.Volumes[1].Used, metrics.Known(0)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, c.got, c.want)
		}
	}
	if web0.Ref != (model.Ref{Project: "demo", Service: "web", Instance: "web-0", Container: "web"}) || !web0.StartedAt.Equal(started) || !web0.Time.Equal(now) {
		t.Errorf("web-0 reading names %+v started %v at %v", web0.Ref, web0.StartedAt, web0.Time)
	}
	if vols.Ref != (model.Ref{Project: "demo", Service: "web"}) {
		t.Errorf("volume reading belongs to %+v, want the service", vols.Ref)
	}
}

func TestVolumeWalkIsBounded(t *testing.T) {
	dir := t.TempDir()
	for i := range 50 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%02d", i)), "data")
	}
	tests := []struct {
		name         string
		limit        int
		wantInodes   uint64
		wantComplete bool
	}{
		{"within the budget", 1000, 51, true},
		{"cut at the budget", 10, 10, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, inodes, complete, err := volumeUsage(dir, tc.limit)
			if err != nil || inodes != tc.wantInodes || complete != tc.wantComplete {
				t.Errorf("volumeUsage = %d inodes, complete %v, %v; want %d, %v", inodes, complete, err, tc.wantInodes, tc.wantComplete)
			}
		})
	}
}

// TestSourceReadsThisMachine measures a real process group on this
// machine: the test's own child in a group of its own.
func TestSourceReadsThisMachine(t *testing.T) {
	pid := startGroup(t)
	src := New(lister{{Project: "p", Name: "s", Instances: []model.Instance{{Name: "s-0", Container: "s", PID: pid}}}}, Options{})
	got, err := src.Read(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].CPUSeconds.Valid || !got[0].MemoryWorkingSet.Valid || got[0].MemoryWorkingSet.V < 4096 {
		t.Fatalf("readings of a live process group: %+v", got)
	}
	if got[0].NetworkRxBytes.Valid {
		t.Error("network reported for a process in the host's network namespace")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// TestVolumeOnItsOwnFilesystem measures a mount point with statfs rather
// than by walking it.
func TestVolumeOnItsOwnFilesystem(t *testing.T) {
	const mount = "/dev/shm"
	own, err := isMountRoot(mount)
	if err != nil || !own {
		t.Skipf("%s is not a mount point here (%v); the statfs path needs one", mount, err)
	}
	used, inodes, complete, err := volumeUsage(mount, 1)
	if err != nil || !complete {
		t.Fatalf("volumeUsage(%s) = %v, complete %v; want a complete statfs reading despite a walk limit of 1", mount, err, complete)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(mount, &st); err != nil {
		t.Fatal(err)
	}
	if want := (st.Blocks - st.Bfree) * uint64(st.Bsize); used != want || inodes != st.Files-st.Ffree {
		t.Errorf("used %d, inodes %d; statfs says %d and %d", used, inodes, want, st.Files-st.Ffree)
	}
}
