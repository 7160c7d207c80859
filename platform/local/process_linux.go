package local

import "syscall"

// startInCgroup makes the child start inside the cgroup open at fd
// (clone3's CLONE_INTO_CGROUP), so that not one instruction runs outside it.
func startInCgroup(attr *syscall.SysProcAttr, fd int) {
	attr.UseCgroupFD = true
	attr.CgroupFD = fd
}

func init() {
	signalNames[syscall.SIGSTKFLT] = "SIGSTKFLT"
	signalNames[syscall.SIGPWR] = "SIGPWR"
}
