//go:build !linux

package main

import (
	"errors"
	"syscall"
)

// restoreDefaultAction is only implemented on Linux; elsewhere crash falls
// back on the runtime's own handling of the signal.
func restoreDefaultAction(syscall.Signal) error {
	return errors.New("not supported on this platform")
}
