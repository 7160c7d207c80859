package main

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTime is CLOCK_THREAD_CPUTIME_ID from <time.h>.
const clockThreadCPUTime = 3

// newThreadClock returns a clock of the CPU time the calling OS thread has
// used; the goroutine must be locked to its thread.
func newThreadClock() func() time.Duration {
	return func() time.Duration {
		var ts syscall.Timespec
		_, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
		if errno != 0 {
			return 0
		}
		return time.Duration(ts.Nano())
	}
}
