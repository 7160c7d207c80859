//go:build linux

package procmem

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// exeRSS is the resident size of the process's read-only mappings of its
// executable, from /proc/self/smaps.
func exeRSS(t *testing.T) int64 {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if fields := strings.Fields(line); len(fields) > 0 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			_, _, in = readOnlyMapping(line, exe)
			continue
		}
		if v, ok := strings.CutPrefix(line, "Rss:"); ok && in {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("smaps line %q: %v", line, err)
			}
			total += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

func TestReleaseExecutablePagesLowersRSSAndTheProcessRunsOn(t *testing.T) {
	before := exeRSS(t)
	n, err := ReleaseExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no read-only mapping of the executable was found")
	}
	after := exeRSS(t)
	if after >= before {
		t.Errorf("resident pages of the executable: %d bytes before, %d after; want fewer", before, after)
	}
	// Code and read-only data come back on use: encoding walks type
	// descriptors and runs code the test had not run since the release.
	out, err := json.Marshal(map[string][]int{"a": {1, 2, 3}})
	if err != nil || string(out) != `{"a":[1,2,3]}` {
		t.Errorf("after the release, json.Marshal = %s, %v", out, err)
	}
	// Writable data is untouched: a package variable keeps its value.
	if marker != "set at start" {
		t.Errorf("package variable reads %q after the release", marker)
	}
}

var marker = strings.Repeat("set at start", 1)

func TestReadOnlyMapping(t *testing.T) {
	const exe = "/usr/bin/opshub"
	for _, tc := range []struct {
		name, line string
		ok         bool
		start, end uint64
	}{
		{"code", "00400000-0246e000 r-xp 00000000 fe:00 10003780   /usr/bin/opshub", true, 0x400000, 0x246e000},
		{"read-only data", "0246e000-04bc6000 r--p 0206e000 fe:00 10003780   /usr/bin/opshub", true, 0x246e000, 0x4bc6000},
		{"writable data is never released", "04bc6000-04c8e000 rw-p 047c6000 fe:00 10003780   /usr/bin/opshub", false, 0, 0},
		{"shared mapping", "00400000-0246e000 r-xs 00000000 fe:00 10003780   /usr/bin/opshub", false, 0, 0},
		{"another file", "7f0000000000-7f0000001000 r--p 00000000 fe:00 1   /usr/lib/libc.so.6", false, 0, 0},
		{"anonymous", "04c8e000-06ce3000 rw-p 00000000 00:00 0", false, 0, 0},
		{"a replaced executable under its old name", "00400000-00401000 r-xp 00000000 fe:00 1   /usr/bin/opshub (deleted)", false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end, ok := readOnlyMapping(tc.line, exe)
			if ok != tc.ok || start != tc.start || end != tc.end {
				t.Errorf("readOnlyMapping = %x, %x, %v; want %x, %x, %v", start, end, ok, tc.start, tc.end, tc.ok)
			}
		})
	}
	if _, _, ok := readOnlyMapping("00400000-00401000 r-xp 00000000 fe:00 1   /usr/bin/opshub (deleted)", exe+" (deleted)"); !ok {
		t.Error("a replaced executable (its path ending in \" (deleted)\") is not recognised")
	}
}
