package sinktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// OpshubBinaries builds opshub and opshub-demo once per test binary into a
// temporary directory and returns it, so that tests run the real programs
// as a user does.
var OpshubBinaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "opshub-bin-")
	if err != nil {
		return "", err
	}
	out, err := exec.Command("go", "build", "-o", dir+"/",
		"github.com/opshub/opshub/cmd/opshub", "github.com/opshub/opshub/cmd/opshub-demo").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, nil
})

// WaitFor polls cond until it holds, and fails the test after timeout,
// naming what it waited for. It polls every millisecond at first and backs
// off to every 50 ms, so that a quick outcome is seen quickly and a slow one
// costs little. It is the tests' one way to wait for an outcome.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := poll(timeout, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	}); err != nil {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Eventually is WaitFor for a condition that says what is still missing:
// it polls cond until it returns nil, and fails the test after timeout with
// cond's last complaint.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
	}
}

var errNotYet = errors.New("not yet")

// poll calls cond until it returns nil or timeout passes, and returns its
// last error. It polls every millisecond at first and backs off to every
// 50 ms.
func poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	interval := time.Millisecond
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval) // the polling interval, not a wait for an outcome
		interval = min(2*interval, 50*time.Millisecond)
	}
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := FreeLoopbackPort()
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return port
}
