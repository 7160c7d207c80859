package procfs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupStats are the numbers of one cgroup v2 directory.
type cgroupStats struct {
	cpuSeconds            float64
	memoryCurrent         uint64
	workingSet, anon      uint64
	readBytes, writeBytes uint64
	hasIO                 bool
}

// readCgroup reads cpu.stat, memory.current, memory.stat and io.stat of a
// cgroup v2 directory. io.stat is optional (the io controller may not be
// enabled for the cgroup).
func readCgroup(dir string) (cgroupStats, error) {
	var st cgroupStats
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return st, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	usec, ok := flatKey(b, "usage_usec")
	if !ok {
		return st, fmt.Errorf("cgroup %s: cpu.stat has no usage_usec", dir)
	}
	st.cpuSeconds = float64(usec) / 1e6

	b, err = os.ReadFile(filepath.Join(dir, "memory.current"))
	if err != nil {
		return st, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	st.memoryCurrent, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return st, fmt.Errorf("cgroup %s: memory.current: %w", dir, err)
	}
	b, err = os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return st, fmt.Errorf("cgroup %s: %w", dir, err)
	}
	// The working set as the kubelet and cAdvisor define it: usage minus
	// the inactive file cache, which the kernel reclaims first.
	inactive, _ := flatKey(b, "inactive_file")
	st.workingSet = st.memoryCurrent - min(inactive, st.memoryCurrent)
	st.anon, _ = flatKey(b, "anon")

	b, err = os.ReadFile(filepath.Join(dir, "io.stat"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return st, fmt.Errorf("cgroup %s: %w", dir, err)
	default:
		st.readBytes, st.writeBytes = parseIOStat(b)
		st.hasIO = true
	}
	return st, nil
}

// flatKey finds "key value" in a flat-keyed cgroup file.
func flatKey(b []byte, key string) (uint64, bool) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte{' '})
		if ok && string(k) == key {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// parseIOStat sums rbytes and wbytes over the devices of io.stat
// ("8:0 rbytes=… wbytes=… rios=… …" per line).
func parseIOStat(b []byte) (read, write uint64) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		for _, kv := range bytes.Fields(line) {
			k, v, ok := bytes.Cut(kv, []byte{'='})
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				continue
			}
			switch string(k) {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write
}

// unifiedCgroup returns the cgroup v2 path of a process from
// /proc/<pid>/cgroup (the "0::/path" line), or "" when it has none.
func unifiedCgroup(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return rest
		}
	}
	return ""
}

// cgroup2Mount finds the mount point of the cgroup2 filesystem in a
// mountinfo file, or "" when there is none.
func cgroup2Mount(mountinfo []byte) string {
	for line := range bytes.SplitSeq(mountinfo, []byte{'\n'}) {
		// Fields: id parent major:minor root mountpoint options [optional…] - fstype source super
		pre, post, ok := bytes.Cut(line, []byte(" - "))
		if !ok {
			continue
		}
		pf, qf := bytes.Fields(pre), bytes.Fields(post)
		if len(pf) >= 5 && len(qf) >= 1 && string(qf[0]) == "cgroup2" {
			return string(pf[4])
		}
	}
	return ""
}
