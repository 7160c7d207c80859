package sinktest

import (
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

// WaitFor polls cond every 50 ms until it holds, and fails the test after
// timeout, naming what it waited for.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
