package local

import (
	"os"
	"syscall"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and parentheses, as a process may choose.
	line := "4242 (my (odd) name) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 18446744073709551615\n"
	st, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{PID: 4242, State: 'S', PGRP: 4240, StartTime: 987654}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "12 no parens", "12 (x) S 1"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) succeeded", bad)
		}
	}
}

func TestReadOwnProcStat(t *testing.T) {
	st, err := readProcStat("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PID != os.Getpid() || st.StartTime == 0 || !st.alive() {
		t.Errorf("own stat %+v", st)
	}
	if pgrp := getpgrp(); st.PGRP != pgrp {
		t.Errorf("pgrp %d, want %d", st.PGRP, pgrp)
	}
}

func getpgrp() int {
	pgrp, _ := syscall.Getpgid(0)
	return pgrp
}
