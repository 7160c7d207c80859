package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// signals are the names --crash-signal and crash= accept, and the names the
// demo prints for the signals it receives.
var signals = map[string]syscall.Signal{
	"SIGABRT": syscall.SIGABRT,
	"SIGBUS":  syscall.SIGBUS,
	"SIGFPE":  syscall.SIGFPE,
	"SIGHUP":  syscall.SIGHUP,
	"SIGILL":  syscall.SIGILL,
	"SIGINT":  syscall.SIGINT,
	"SIGKILL": syscall.SIGKILL,
	"SIGQUIT": syscall.SIGQUIT,
	"SIGSEGV": syscall.SIGSEGV,
	"SIGTERM": syscall.SIGTERM,
	"SIGTRAP": syscall.SIGTRAP,
}

// parseSignal accepts "SIGABRT", "abrt" or a signal number; "" means none.
func parseSignal(s string) (syscall.Signal, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return syscall.Signal(n), nil
	}
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig, ok := signals[s]; ok {
		return sig, nil
	}
	names := make([]string, 0, len(signals))
	for name := range signals {
		names = append(names, name)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown signal %q (known: %s, or a number)", s, strings.Join(names, ", "))
}

// signalName is the SIGXXX name of sig, or its number.
// The zero syscall.Signal, meaning "no signal", is "".
func signalName(sig os.Signal) string {
	if sig == nil || sig == syscall.Signal(0) {
		return ""
	}
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	if s, ok := sig.(syscall.Signal); ok {
		return "signal " + strconv.Itoa(int(s))
	}
	return sig.String()
}

// crash kills the process with sig, so that its parent sees it die of that
// signal and not exit with a code. The Go runtime handles many signals
// itself (a SIGSEGV sent from outside is ignored, a SIGABRT makes it exit
// with code 2), so the signal's disposition is reset to the default first.
// It returns only if the signal did not end the process.
func crash(sig syscall.Signal, stderr io.Writer) int {
	signal.Reset(sig)
	if err := restoreDefaultAction(sig); err != nil {
		// Without a reset the runtime's traceback level decides: "crash"
		// makes fatal signals end in SIGABRT rather than exit code 2.
		debug.SetTraceback("crash")
	}
	p, err := os.FindProcess(os.Getpid())
	if err == nil {
		err = p.Signal(sig)
	}
	if err != nil {
		fmt.Fprintf(stderr, "crash with %s: %v\n", signalName(sig), err)
		return 1
	}
	// Delivery to another thread of this process can take a moment.
	time.Sleep(5 * time.Second)
	fmt.Fprintf(stderr, "crash with %s: the process survived the signal\n", signalName(sig))
	return 1
}
