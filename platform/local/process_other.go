//go:build !linux

package local

import "syscall"

// startInCgroup is never called off Linux: cgroup v2 is Linux's, and the
// runtime opens no cgroup elsewhere. The package builds on other systems so
// that the opshub binary (its client commands and check-config) does.
func startInCgroup(*syscall.SysProcAttr, int) {}
