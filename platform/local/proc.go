package local

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// procStat is what the runtime reads from /proc/<pid>/stat.
type procStat struct {
	PID   int
	State byte // 'R', 'S', 'Z', …
	PGRP  int
	// StartTime is field 22: when the process started, in clock ticks since
	// boot. Together with the pid it names a process unambiguously: a reused
	// pid comes with a later start time.
	StartTime uint64
}

// alive reports whether the process still runs (a zombie has finished; it
// only waits for its parent to reap it).
func (s procStat) alive() bool { return s.State != 'Z' && s.State != 'X' }

// readProcStat reads <procRoot>/<pid>/stat.
func readProcStat(procRoot string, pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

// parseProcStat parses one stat line. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so the fields
// after it are found from the last ')'.
func parseProcStat(data []byte) (procStat, error) {
	open := bytes.IndexByte(data, '(')
	end := bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("parse proc stat %q: no command name", data)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("parse proc stat: pid: %w", err)
	}
	// rest[0] is field 3 (state), so field n is rest[n-3].
	rest := bytes.Fields(data[end+1:])
	if len(rest) < 20 || len(rest[0]) != 1 {
		return procStat{}, fmt.Errorf("parse proc stat of %d: %d fields after the command name", pid, len(rest))
	}
	pgrp, err := strconv.Atoi(string(rest[5-3]))
	if err != nil {
		return procStat{}, fmt.Errorf("parse proc stat of %d: pgrp: %w", pid, err)
	}
	start, err := strconv.ParseUint(string(rest[22-3]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse proc stat of %d: starttime: %w", pid, err)
	}
	return procStat{PID: pid, State: rest[0][0], PGRP: pgrp, StartTime: start}, nil
}

// listProcs reads the stat of every process under procRoot. Processes that
// vanish while it reads are skipped.
func listProcs(procRoot string) ([]procStat, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		st, err := readProcStat(procRoot, pid)
		if err != nil {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}
