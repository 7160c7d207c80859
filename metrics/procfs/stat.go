package procfs

import (
	"bytes"
	"fmt"
	"strconv"
)

// userHZ is the unit of CPU times in /proc/<pid>/stat. Linux fixes
// USER_HZ at 100 for user space on every architecture it runs on.
const userHZ = 100

// procStat is what the Source needs from /proc/<pid>/stat.
type procStat struct {
	pid  int
	pgrp int
	// cpuTicks is utime+stime+cutime+cstime: the process's own CPU time and
	// that of the children it waited for, so that a child's time is not lost
	// when it exits and its parent reaps it.
	cpuTicks uint64
}

// parseStat parses /proc/<pid>/stat. The command name may contain spaces
// and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("stat: no command name")
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("stat: %d fields after the command", len(f))
	}
	pgrp, err := strconv.Atoi(string(f[5-3]))
	if err != nil {
		return procStat{}, fmt.Errorf("stat: pgrp: %w", err)
	}
	var ticks uint64
	for n := 14; n <= 17; n++ {
		v, err := strconv.ParseInt(string(f[n-3]), 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat: field %d: %w", n, err)
		}
		if v > 0 {
			ticks += uint64(v)
		}
	}
	return procStat{pgrp: pgrp, cpuTicks: ticks}, nil
}

// parseStatusRSS returns RssAnon+RssShmem from /proc/<pid>/status, in bytes.
func parseStatusRSS(b []byte) (uint64, bool) {
	var total uint64
	found := false
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok || (!bytes.Equal(k, []byte("RssAnon")) && !bytes.Equal(k, []byte("RssShmem"))) {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			continue
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		total += kb * 1024
		found = true
	}
	return total, found
}

// parseStatmResident returns the resident pages from /proc/<pid>/statm.
func parseStatmResident(b []byte) (uint64, bool) {
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(f[1]), 10, 64)
	return v, err == nil
}

// parseIO returns read_bytes and write_bytes from /proc/<pid>/io: bytes that
// went to or came from block devices, not the page cache.
func parseIO(b []byte) (read, write uint64, ok bool) {
	var got int
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		k, v, found := bytes.Cut(line, []byte{':'})
		if !found {
			continue
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			continue
		}
		switch string(k) {
		case "read_bytes":
			read = n
			got++
		case "write_bytes":
			write = n
			got++
		}
	}
	return read, write, got == 2
}

// parseNetDev sums receive and transmit bytes of every interface but
// loopback in /proc/<pid>/net/dev.
func parseNetDev(b []byte) (rx, tx uint64, ok bool) {
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		name, rest, found := bytes.Cut(line, []byte{':'})
		if !found {
			continue
		}
		name = bytes.TrimSpace(name)
		if bytes.Equal(name, []byte("lo")) {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseUint(string(f[0]), 10, 64)
		t, err2 := strconv.ParseUint(string(f[8]), 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rx += r
		tx += t
		ok = true
	}
	return rx, tx, ok
}
