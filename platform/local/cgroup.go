package local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupPaths are the files the runtime reads to find its cgroup v2
// hierarchy. Tests point them at a fake tree.
type cgroupPaths struct {
	MountInfo string // /proc/self/mountinfo
	Self      string // /proc/self/cgroup
}

var defaultCgroupPaths = cgroupPaths{MountInfo: "/proc/self/mountinfo", Self: "/proc/self/cgroup"}

// cgroupPrefix starts the name of every cgroup the runtime creates, so that
// leftovers of a crashed opshub can be recognised.
const cgroupPrefix = "opshub-"

// cgroups creates per-run child cgroups under opshub's own cgroup. A nil
// *cgroups means limits are not enforced.
type cgroups struct {
	base string // opshub's own cgroup directory
}

// detectCgroups finds a writable cgroup v2 hierarchy in which opshub may
// create children with the cpu and memory controllers. When there is none it
// returns the reason, for the instances' Limits and one start-up warning.
func detectCgroups(paths cgroupPaths) (*cgroups, string) {
	mount, err := cgroup2Mount(paths.MountInfo)
	if err != nil {
		return nil, err.Error()
	}
	rel, err := ownCgroup(paths.Self)
	if err != nil {
		return nil, err.Error()
	}
	base := filepath.Join(mount, filepath.FromSlash(rel))
	available, err := readWords(filepath.Join(base, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Sprintf("cgroup v2 %s: %v", base, err)
	}
	if missing := missingControllers(available); missing != "" {
		return nil, fmt.Sprintf("cgroup v2 %s lacks the %s controller(s) (a cgroup v1 or hybrid layout, or no delegation)", base, missing)
	}
	enabled, err := readWords(filepath.Join(base, "cgroup.subtree_control"))
	if err != nil {
		return nil, fmt.Sprintf("cgroup v2 %s: %v", base, err)
	}
	if missingControllers(enabled) != "" {
		// Enabling controllers for children fails with EBUSY while the
		// cgroup itself holds processes (the no-internal-process rule), which
		// is the case unless opshub runs in a delegated cgroup of its own.
		if err := os.WriteFile(filepath.Join(base, "cgroup.subtree_control"), []byte("+cpu +memory"), 0o644); err != nil {
			return nil, fmt.Sprintf("cgroup v2 %s: enable cpu and memory for children: %v (run opshub in a delegated cgroup, e.g. systemd-run --scope -p Delegate=yes)", base, err)
		}
	}
	probe := filepath.Join(base, fmt.Sprintf("%sprobe-%d", cgroupPrefix, os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return nil, fmt.Sprintf("cgroup v2 %s is not writable: %v", base, err)
	}
	_ = os.RemoveAll(probe)
	return &cgroups{base: base}, ""
}

// cgroup2Mount returns the mount point of the cgroup2 filesystem.
func cgroup2Mount(mountInfo string) (string, error) {
	data, err := os.ReadFile(mountInfo)
	if err != nil {
		return "", fmt.Errorf("find cgroup v2: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - cgroup2 cgroup2 rw":
		// field 5 is the mount point; the filesystem type follows " - ".
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, fs := strings.Fields(pre), strings.Fields(post)
		if len(fields) >= 5 && len(fs) >= 1 && fs[0] == "cgroup2" {
			return unescapeMount(fields[4]), nil
		}
	}
	return "", errors.New("no cgroup v2 filesystem is mounted")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, …).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroup returns opshub's cgroup v2 path from the "0::" line.
func ownCgroup(self string) (string, error) {
	data, err := os.ReadFile(self)
	if err != nil {
		return "", fmt.Errorf("find own cgroup: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if path, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "0::"); ok {
			return path, nil
		}
	}
	return "", fmt.Errorf("find own cgroup: no cgroup v2 entry in %s", self)
}

func readWords(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(data)), nil
}

// missingControllers names cpu and/or memory when they are not in have.
func missingControllers(have []string) string {
	var missing []string
	for _, want := range []string{"cpu", "memory"} {
		found := false
		for _, h := range have {
			found = found || h == want
		}
		if !found {
			missing = append(missing, want)
		}
	}
	return strings.Join(missing, ", ")
}

// runCgroup is the cgroup of one run of one instance.
type runCgroup struct {
	dir string
	fd  *os.File // the directory, for SysProcAttr.CgroupFD
}

// cpuMax renders cpu.max for a limit in millicores over the default 100 ms
// period; the kernel refuses quotas under 1 ms.
func cpuMax(milli int64) string {
	if milli <= 0 {
		return "max 100000"
	}
	return fmt.Sprintf("%d 100000", max(milli*100, 1000))
}

// memoryMax renders memory.max.
func memoryMax(bytes int64) string {
	if bytes <= 0 {
		return "max"
	}
	return strconv.FormatInt(bytes, 10)
}

// create makes the cgroup <base>/<name> with the given limits.
func (c *cgroups) create(name string, cpuMilli, memoryBytes int64) (*runCgroup, error) {
	dir := filepath.Join(c.base, cgroupPrefix+name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	g := &runCgroup{dir: dir}
	for file, value := range map[string]string{"memory.max": memoryMax(memoryBytes), "cpu.max": cpuMax(cpuMilli)} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
			g.remove()
			return nil, fmt.Errorf("cgroup %s: write %s: %w", dir, file, err)
		}
	}
	fd, err := os.Open(dir)
	if err != nil {
		g.remove()
		return nil, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	g.fd = fd
	return g, nil
}

// oomKilled reports whether the kernel's OOM killer killed a process in the
// cgroup (memory.events: oom_kill).
func (g *runCgroup) oomKilled() bool {
	data, err := os.ReadFile(filepath.Join(g.dir, "memory.events"))
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "oom_kill "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return err == nil && n > 0
		}
	}
	return false
}

// kill SIGKILLs every process left in the cgroup (cgroup.kill, Linux 5.14+),
// which reaches processes that left the process group too.
func (g *runCgroup) kill() {
	path := filepath.Join(g.dir, "cgroup.kill")
	if _, err := os.Stat(path); err == nil {
		_ = os.WriteFile(path, []byte("1"), 0o644)
	}
}

// remove deletes the cgroup; the kernel refuses while processes are still
// leaving it, so it retries for a moment.
func (g *runCgroup) remove() error {
	if g.fd != nil {
		g.fd.Close()
		g.fd = nil
	}
	var err error
	for range 20 {
		// On cgroupfs rmdir removes a cgroup with its interface files; on a
		// plain directory (tests) RemoveAll does what rmdir cannot.
		if err = os.Remove(g.dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			if rerr := os.RemoveAll(g.dir); rerr == nil {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup %s: %w", g.dir, err)
}

// removeStale deletes empty cgroups a previous opshub left behind.
func (c *cgroups) removeStale() {
	entries, err := os.ReadDir(c.base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), cgroupPrefix) {
			continue
		}
		dir := filepath.Join(c.base, e.Name())
		if procs, err := readWords(filepath.Join(dir, "cgroup.procs")); err == nil && len(procs) == 0 {
			_ = os.Remove(dir)
		}
	}
}
