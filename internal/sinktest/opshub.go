package sinktest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
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
	deadline := time.Now().Add(timeout)
	poll := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(poll) // the polling interval, not a wait for an outcome
		poll = min(2*poll, 50*time.Millisecond)
	}
}

// FreePort is FreeAddr's port.
func FreePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}
