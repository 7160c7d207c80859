package main

import (
	"syscall"
	"unsafe"
)

// restoreDefaultAction sets sig's disposition to SIG_DFL with rt_sigaction.
// An all-zero struct sigaction is exactly that (handler SIG_DFL, no flags,
// empty mask) on every Linux architecture, whatever its field order.
func restoreDefaultAction(sig syscall.Signal) error {
	var act [64]byte
	const sigsetSize = 8 // the kernel's sigset_t on amd64, arm64 and most others
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act)), 0, sigsetSize, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
